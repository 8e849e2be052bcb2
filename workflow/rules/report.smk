# Stage 4: tables, figures and the metrics file DVC compares across commits.


rule report:
    input:
        report_outputs(),


rule make_tables:
    input:
        cv_summaries(),
    output:
        metrics="reports/metrics.json",
        summary_md="reports/tables/cv_summary.md",
        summary_csv="reports/tables/cv_summary.csv",
        table1_md="reports/tables/table1.md",
        table1_csv="reports/tables/table1.csv",
    params:
        dataset=DATASET,
        table1=config["report"]["table1"],
    threads: 1
    resources:
        mem_mb=500,
    log:
        f"{LOGS}/report/make_tables.log",
    benchmark:
        f"{LOGS}/report/make_tables.benchmark.tsv"
    script:
        "../scripts/make_tables.py"


rule plot_figure1:
    input:
        summaries=cv_summaries(),
        predictions=oof_predictions(),
    output:
        png="reports/figures/fig1_prediction.png",
        pdf="reports/figures/fig1_prediction.pdf",
    params:
        dataset=DATASET,
        feature_set=config["report"]["table1"]["feature_set"],
        targets=TARGETS,
        baseline_model=config["report"]["baseline_model"],
        clip=config["report"]["figure1_clip"],
    threads: 1
    resources:
        mem_mb=1000,
    log:
        f"{LOGS}/report/plot_figure1.log",
    benchmark:
        f"{LOGS}/report/plot_figure1.benchmark.tsv"
    script:
        "../scripts/plot_figure1.py"
