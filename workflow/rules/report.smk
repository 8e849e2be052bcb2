# Stage 4: tables, figures, the metrics files DVC compares across commits and the series
# `dvc plots` draws. Tables and figures are wrapped in report() (captions in
# workflow/report/), so `snakemake --report reports/report.html` shows them on one page.
# Figures 2-6 use the Table 1 feature set (attention maps: the first training seed);
# Figures 3-5 need an AT model in the grid and
# Figure 6 a BAT model, trained on that set (report_outputs() leaves them out otherwise).

REPORT_FEATURE_SET = config["report"]["table1"]["feature_set"]


def _table(name, caption):
    return report(f"reports/tables/{name}.csv", caption=f"../report/{caption}.rst", category="Tables")


def _figure(name, caption):
    return report(f"reports/figures/{name}.png", caption=f"../report/{caption}.rst", category="Figures")


rule report:
    input:
        report_outputs(),


rule make_tables:
    input:
        summaries=cv_summaries(),
        dataset_notes=f"{RESULTS}/dataset_notes.json",
    output:
        metrics="reports/metrics.json",
        best_models="reports/best_models.json",
        summary_md="reports/tables/cv_summary.md",
        summary_csv=_table("cv_summary", "cv_summary"),
        table1_md="reports/tables/table1.md",
        table1_csv=_table("table1", "table1"),
        table2_md="reports/tables/table2.md",
        table2_csv=_table("table2", "table2"),
        table3_md="reports/tables/table3.md",
        table3_csv=_table("table3", "table3_4"),
        table4_md="reports/tables/table4.md",
        table4_csv=_table("table4", "table3_4"),
    params:
        dataset=DATASET,
        table1=config["report"]["table1"],
        baseline_model=BASELINE_MODEL,
        cv=config["cv"],  # paper columns only for 10-fold CV on emoMusic
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    log:
        f"{LOGS}/report/make_tables.log",
    benchmark:
        f"{LOGS}/report/make_tables.benchmark.tsv"
    script:
        "../scripts/make_tables.py"


rule compare_families:
    input:
        summaries=cv_summaries(),
        predictions=oof_predictions(),
        dataset_notes=f"{RESULTS}/dataset_notes.json",
    output:
        md="reports/tables/paired_comparison.md",
        csv=_table("paired_comparison", "paired_comparison"),
    params:
        dataset=DATASET,
        n_resamples=config["report"]["bootstrap_resamples"],
        seed=config["seed"],
        selection=config["report"]["selection"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{LOGS}/report/compare_families.log",
    benchmark:
        f"{LOGS}/report/compare_families.benchmark.tsv"
    script:
        "../scripts/compare_families.py"


rule make_dataset_tables:
    input:
        raw=RAW,
        values=expand(f"{FEATURES}/{{feature_set}}.npy", feature_set=FEATURE_SETS),
        index=expand(f"{FEATURES}/{{feature_set}}.json", feature_set=FEATURE_SETS),
        dataset_notes=f"{RESULTS}/dataset_notes.json",
    output:
        md="reports/tables/dataset.md",
        statistics=_table("dataset_statistics", "dataset"),
        shortcuts=_table("dataset_shortcuts", "dataset"),
    params:
        dataset=DATASET,
        feature_sets=FEATURE_SETS,
    threads: 1
    resources:
        mem_mb=lambda wildcards: 1000 + sum(feature_memory_mb(SimpleNamespace(feature_set=s)) for s in FEATURE_SETS) // 3,
        runtime=10,
    log:
        f"{LOGS}/report/make_dataset_tables.log",
    benchmark:
        f"{LOGS}/report/make_dataset_tables.benchmark.tsv"
    script:
        "../scripts/make_dataset_tables.py"


rule make_claims:
    input:
        summaries=cv_summaries(),
        predictions=oof_predictions(),
        # C3, C3b: the attention of every AT model on the claims' feature set (first seed)
        attention=fold_files("attention.npz", models_of_family("AT", REPORT_FEATURE_SET), [REPORT_FEATURE_SET], seeds=[0]),
        dataset_notes=f"{RESULTS}/dataset_notes.json",
    output:
        md="reports/tables/claims.md",
        csv=_table("claims", "claims"),
    params:
        dataset=DATASET,
        feature_set=REPORT_FEATURE_SET,
        claims=config["report"]["claims"],
        selection=config["report"]["selection"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{LOGS}/report/make_claims.log",
    benchmark:
        f"{LOGS}/report/make_claims.benchmark.tsv"
    script:
        "../scripts/make_claims.py"


rule plot_figure1:
    input:
        summaries=cv_summaries(),
        predictions=oof_predictions(),
    output:
        png=_figure("fig1_prediction", "fig1"),
        pdf="reports/figures/fig1_prediction.pdf",
    params:
        dataset=DATASET,
        feature_set=REPORT_FEATURE_SET,
        targets=TARGETS,
        baseline_model=BASELINE_MODEL,
        clip=config["report"]["figure1_clip"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{LOGS}/report/plot_figure1.log",
    benchmark:
        f"{LOGS}/report/plot_figure1.benchmark.tsv"
    script:
        "../scripts/plot_figure1.py"


rule plot_error_histograms:
    input:
        summaries=cv_summaries(),
        predictions=oof_predictions(),
    output:
        png=_figure("fig2_error_histograms", "fig2"),
        pdf="reports/figures/fig2_error_histograms.pdf",
    params:
        dataset=DATASET,
        feature_set=REPORT_FEATURE_SET,
        targets=TARGETS,
        baseline_model=BASELINE_MODEL,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{LOGS}/report/plot_error_histograms.log",
    benchmark:
        f"{LOGS}/report/plot_error_histograms.benchmark.tsv"
    script:
        "../scripts/plot_error_histograms.py"


rule plot_attention_maps:
    input:
        summaries=cv_summaries(),
        predictions=oof_predictions(),
        attention=fold_files("attention.npz", models_of_family("AT", REPORT_FEATURE_SET), [REPORT_FEATURE_SET], seeds=[0]),
        dataset_notes=f"{RESULTS}/dataset_notes.json",
    output:
        png=_figure("fig3_attention_maps", "fig3"),
        pdf="reports/figures/fig3_attention_maps.pdf",
    params:
        dataset=DATASET,
        feature_set=REPORT_FEATURE_SET,
        targets=TARGETS,
        clips=config["report"]["attention_clips"],
        family="AT",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{LOGS}/report/plot_attention_maps.log",
    benchmark:
        f"{LOGS}/report/plot_attention_maps.benchmark.tsv"
    script:
        "../scripts/plot_attention_maps.py"


rule plot_attended_frames:
    input:
        summaries=cv_summaries(),
        predictions=oof_predictions(),
        attention=fold_files("attention.npz", models_of_family("AT", REPORT_FEATURE_SET), [REPORT_FEATURE_SET], seeds=[0]),
        dataset_notes=f"{RESULTS}/dataset_notes.json",
    output:
        png=_figure("fig4_attended_frames", "fig4"),
        pdf="reports/figures/fig4_attended_frames.pdf",
    params:
        dataset=DATASET,
        feature_set=REPORT_FEATURE_SET,
        targets=TARGETS,
        clips=config["report"]["attention_clips"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{LOGS}/report/plot_attended_frames.log",
    benchmark:
        f"{LOGS}/report/plot_attended_frames.benchmark.tsv"
    script:
        "../scripts/plot_attended_frames.py"


rule plot_chromagrams:
    input:
        raw=RAW,
        summaries=cv_summaries(),
        predictions=oof_predictions(),
    output:
        png=_figure("fig5_chromagrams", "fig5"),
        pdf="reports/figures/fig5_chromagrams.pdf",
    params:
        dataset=DATASET,
        feature_set=REPORT_FEATURE_SET,
        targets=TARGETS,
        clips=config["report"]["attention_clips"],
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    log:
        f"{LOGS}/report/plot_chromagrams.log",
    benchmark:
        f"{LOGS}/report/plot_chromagrams.benchmark.tsv"
    script:
        "../scripts/plot_chromagrams.py"


rule plot_bat_attention_maps:
    input:
        summaries=cv_summaries(),
        predictions=oof_predictions(),
        attention=fold_files("attention.npz", models_of_family("BAT", REPORT_FEATURE_SET), [REPORT_FEATURE_SET], seeds=[0]),
    output:
        png=_figure("fig6_bat_attention_maps", "fig6"),
        pdf="reports/figures/fig6_bat_attention_maps.pdf",
    params:
        dataset=DATASET,
        feature_set=REPORT_FEATURE_SET,
        targets=TARGETS,
        clips=config["report"]["attention_clips"],
        family="BAT",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{LOGS}/report/plot_bat_attention_maps.log",
    benchmark:
        f"{LOGS}/report/plot_bat_attention_maps.benchmark.tsv"
    script:
        "../scripts/plot_attention_maps.py"


rule export_dvc_plots:
    input:
        summaries=cv_summaries(),
        predictions=oof_predictions(),
        histories=fold_files("history.csv", MODELS),
    output:
        directory("reports/plots"),
    params:
        clip=config["report"]["figure1_clip"],
        target=TARGETS[0],
        feature_set=REPORT_FEATURE_SET,
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    log:
        f"{LOGS}/report/export_dvc_plots.log",
    benchmark:
        f"{LOGS}/report/export_dvc_plots.benchmark.tsv"
    script:
        "../scripts/export_dvc_plots.py"
