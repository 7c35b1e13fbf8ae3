"""Retrain: train a model with the chapter-4 hyper-parameters, live, into this session's own run folder."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from app_support import datacheck, loader, paths, sessions, weights_choice
from app_support.training_job import TrainingJob
from app_support.weights_choice import MODEL_LABELS
from colourise_core import models
from colourise_core.data import DATASET_NAMES, open_source
from colourise_core.data.datasets import CIFAR10_CLASSES, IMAGENETTE_CLASSES
from colourise_core.errors import ColouriseError
from colourise_core.run_folder import RunFolder
from colourise_core.training import DATASET_RESOLUTION, MODEL_DEFAULTS, TrainConfig
from pages import serve_directly, st_page

JOB_KEY = "retrain_job"
DATASET_LABELS = {"shapes": "Shape Set", "cifar10": "CIFAR-10", "faces": "Faces", "imagenette": "Imagenette",
                  "folder": "Your zip"}  # how the page names colourise_core.data's datasets
DATASETS = {DATASET_LABELS.get(name, name): name for name in DATASET_NAMES}  # label -> dataset name


def loss_chart(history: list) -> go.Figure:
    fig = go.Figure()
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    keys = [k for k in ("loss", "val_loss", "d_loss", "val_d_loss", "recon", "kl") if any(k in h for h in history)]
    for k in keys:
        fig.add_trace(go.Scatter(x=epochs, y=[h.get(k) for h in history], mode="lines+markers", name=k))
    fig.update_xaxes(dtick=1)
    fig.update_layout(title="Loss per epoch", xaxis_title="epoch", yaxis_title="loss", height=320,
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h"))
    return fig


def archive_status(name: str) -> tuple[Path | None, str | None]:
    path = paths.dataset_archive(name)
    if path.is_file():
        return path, None
    return None, (f"The {name} archive is not at {path}. Put {paths.DATASET_ARCHIVES[name]} there, or set "
                  f"{paths.DATA_DIR_ENV} to the folder that holds it.")


def run_zip(run: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in RunFolder.FILES:
            if (run / f).is_file():
                zf.write(run / f, f"{run.name}/{f}")
    return buffer.getvalue()


def page() -> None:
    """The Retrain page."""
    st.title("Retrain")
    st.caption("Train any of the four models: the dissertation's CNN, CGAN and CVAE with the hyper-parameters of "
               "chapter 4, or the U-Net (a distribution over colours, rare ones re-weighted). The run is written to this "
               "browser session's own folder (never over the shipped weights); once it has finished an epoch it "
               "is in the sidebar's Weights choice for Compare and CVAE diversity, and you can download it.")

    sid = weights_choice.session_id()
    session_dir = paths.session_dir(sid)
    job: TrainingJob | None = st.session_state.get(JOB_KEY)
    running = job is not None and not job.progress().done

    @st.fragment(run_every=1.0 if running else None)
    def progress_panel() -> None:
        job: TrainingJob | None = st.session_state.get(JOB_KEY)
        if job is None:
            return
        p = job.progress()
        st.subheader(f"Run {job.run_dir.name}: {MODEL_LABELS[job.config.model]} on {job.config.dataset}")
        text = {"starting": "Loading the data and building the model...",
                "waiting": "Waiting for a free training slot (the server trains one model at a time)...",
                "running": f"Epoch {min(p.epoch + 1, p.epochs)} of {p.epochs}, batch {p.batch} of {p.steps}",
                "finished": f"Finished {p.epoch} epoch(s)", "stopped": f"Stopped after {p.epoch} finished epoch(s)",
                "failed": "Failed"}[p.status]
        st.progress(p.fraction, text=f"{text} · {p.seconds:.0f} s")
        if p.history:
            st.plotly_chart(loss_chart(p.history), key="retrain_loss_chart")
        if not p.done:
            if st.button("Stop", key="retrain_stop", icon=":material/stop_circle:",
                         help="Stops after the current batch; the last finished epoch is kept.") or job.stop_requested.is_set():
                job.stop()
                st.caption("Stopping after this batch...")
            return
        if not st.session_state.get("retrain_handled") == str(job.run_dir):
            st.session_state["retrain_handled"] = str(job.run_dir)
            loader.forget_run(str(job.run_dir))  # the cache is cleared when a retrain finishes
            st.rerun()  # the whole app: the sidebar's Weights choice now lists the run
        if p.status == "failed":
            st.error(f"Training failed: {p.error}", icon=":material/error:")
        elif p.epoch == 0:
            st.warning("Stopped before the first epoch finished: nothing was saved.", icon=":material/warning:")
        else:
            st.success(f"Run {job.run_dir.name} is ready ({p.epoch} epoch(s), {p.seconds:.0f} s). Pick "
                       f"\"my run: {job.run_dir.name}\" in the sidebar's Weights choice.", icon=":material/check_circle:")

    progress_panel()

    st.subheader("New run")
    c1, c2 = st.columns(2, gap="large")
    with c1:
        model = st.radio("Model", list(models.MODEL_NAMES), key="retrain_model", horizontal=True, format_func=MODEL_LABELS.get)
        label = st.selectbox("Dataset", list(DATASETS), key="retrain_dataset")
        dataset = DATASETS[label]
        data, classes, problem = None, None, None
        if dataset == "cifar10":
            data, problem = archive_status("cifar10")
            picked = st.multiselect("Classes (none: all ten)", list(CIFAR10_CLASSES), key="retrain_cifar_classes",
                                    help="The dissertation trained one model per class (5.3), e.g. horse.")
            classes = tuple(picked) or None
        elif dataset == "imagenette":
            data, problem = archive_status("imagenette")
            picked = st.multiselect("Classes (none: all ten)", list(IMAGENETTE_CLASSES.values()),
                                    key="retrain_imagenette_classes")
            classes = tuple(picked) or None
        elif dataset == "faces":
            data, problem = archive_status("faces")
        elif dataset == "folder":
            upload = st.file_uploader("A .zip of images (train/<class>/img.jpg, <class>/img.jpg or flat)",
                                      type=["zip"], key="retrain_zip")
            if upload is None:
                problem = "Upload a zip of colour images."
            else:
                target = session_dir / "_uploads" / paths.safe_name(upload.name, "data.zip")
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    if not target.is_file() or target.stat().st_size != upload.size:
                        sessions.check_disk(sessions.current(), upload.size)  # per-session and total quotas
                        target.write_bytes(upload.getvalue())
                    with open_source(target) as src:
                        found, splits, names = len(src), src.splits, src.classes()
                    skipped_note = datacheck.check_zip(target)  # the decoding policy, before any training
                except (ColouriseError, sessions.QuotaError) as e:
                    st.error(f"This zip cannot be used: {e}", icon=":material/folder_off:")
                    target.unlink(missing_ok=True)
                else:
                    data = target
                    st.caption(f"{found} images; splits: {', '.join(splits) or 'none'}; classes: {', '.join(names) or 'none'}")
                    if skipped_note:
                        st.warning(skipped_note, icon=":material/broken_image:")
                    if names:
                        classes = tuple(st.multiselect("Classes (none: all)", names, key="retrain_zip_classes")) or None
        if problem:
            st.warning(problem, icon=":material/warning:")
        resolution = st.select_slider("Resolution (px)", models.RESOLUTIONS, value=DATASET_RESOLUTION[dataset],
                                      key=f"retrain_resolution_{dataset}",
                                      help="Images are resized to this square size; the dissertation used 32 for "
                                           "CIFAR-10, 64 for the Shape Set and 128 for Faces and Imagenette.")
        limit = st.number_input("Training images", 16, 100_000, 2000, step=100, key="retrain_limit",
                                help="A seeded random subset, to keep CPU training short.")
        val_limit = st.number_input("Validation images", 8, 10_000, 200, step=50, key="retrain_val_limit")
        name = st.text_input("Run name (optional)", key="retrain_name", placeholder=f"{model}-{dataset}")

    defaults = MODEL_DEFAULTS[model]  # the trainer's (chapter 4), and the model's own config below
    model_config = models.default_config(model, int(resolution))
    with c2:
        epochs = st.number_input("Epochs", 1, 500, 5, key="retrain_epochs")
        batch = st.number_input("Batch size", 1, 4096, defaults["batch_size"], key=f"retrain_batch_{model}",
                                help="Chapter 4: 512 for the CNN and CGAN, 32 for the CVAE; the U-Net's: 32.")
        lr = st.number_input("Learning rate (Adam)", 1e-6, 1.0, defaults["learning_rate"], step=1e-4, format="%.1e",
                             key=f"retrain_lr_{model}", help="Chapter 4: 1e-3 for the CNN and CVAE, 2e-4 for the CGAN; the U-Net's: 1e-3.")
        beta_1 = st.number_input("Adam beta_1", 0.0, 0.999, defaults["beta_1"], step=0.05, key=f"retrain_beta1_{model}",
                                 help="0.5 for the CGAN (4.2.3), Adam's 0.9 otherwise.")
        augment = st.toggle(f"Augmentation ({models.get_family(model).augment_config().describe()})", defaults["augment"],
                            key=f"retrain_augment_{model}",
                            help="4.1.3: on for the CNN (flip, shift, rotate). The U-Net flips only (its random crops give the rest).")
        dropout = latent = recon = rebalance = None
        if hasattr(model_config, "dropout"):  # the options its config has (CNN: dropout)
            dropout = st.slider("Dropout", 0.0, 0.8, model_config.dropout, 0.05, key="retrain_dropout", help="4.1.4: 0.2.")
        if hasattr(model_config, "latent_dim"):  # (CVAE: latent size and W)
            latent = st.number_input("Latent dimension", 2, 4096, model_config.latent_dim, key="retrain_latent",
                                     help="4.3.6: 1024.")
            recon = st.number_input("Reconstruction weight W (equation 4.5)", 0.0, 1000.0, model_config.recon_weight, step=0.5,
                                    key="retrain_recon", help="1: unweighted. A low W gives more diverse samples (5.4.3).")
        if hasattr(model_config, "rebalance"):  # (U-Net: the class rebalancing, Zhang et al. 2016)
            rebalance = st.slider("Class rebalancing lambda", 0.0, 1.0, model_config.rebalance, 0.05, key="retrain_rebalance",
                                  help="Rare colours' weight in the loss: the bin prior mixed with the uniform distribution "
                                       "by lambda (ECCV 2016: 0.5); 1 turns the rebalancing off (grey-ish colours).")
        seed = st.number_input("Seed", 0, 2**31 - 1, 0, key="retrain_seed")

    start = st.button("Start training", key="retrain_start", type="primary", icon=":material/play_arrow:",
                      disabled=running or bool(problem) or (dataset != "shapes" and data is None))
    if start and not running:
        config = TrainConfig(model=model, dataset=dataset, data=str(data) if data else None, classes=classes,
                             resolution=int(resolution), epochs=int(epochs), batch_size=int(batch), learning_rate=float(lr),
                             beta_1=float(beta_1), augment=bool(augment), dropout=dropout, latent_dim=int(latent) if latent else None,
                             recon_weight=float(recon) if recon is not None else None,
                             rebalance=float(rebalance) if rebalance is not None else None, limit=int(limit),
                             val_limit=int(val_limit), seed=int(seed))
        run_name = paths.safe_name(name or f"{model}-{dataset}-{time.strftime('%H%M%S')}")
        run_dir = paths.unique_child(session_dir, run_name)
        try:  # a public deployment's limits: disk, and epochs per session
            sessions.check_disk(sessions.current())
            sessions.reserve_epochs(sessions.current(), int(epochs))
        except sessions.QuotaError as e:
            st.error(str(e), icon=":material/block:")
            st.stop()
        st.session_state[JOB_KEY] = TrainingJob(config, run_dir).start()
        sessions.current().jobs.append(st.session_state[JOB_KEY])  # stopped when the session ends
        st.session_state.pop("retrain_handled", None)
        st.rerun()

    runs = weights_choice.session_runs(sid)
    st.subheader("Your runs in this session")
    if not runs:
        st.caption("None yet.")
    for r in runs:
        a, b, c = st.columns([3, 1, 1], vertical_alignment="center")
        a.markdown(f"**{Path(r.value).name}**: {MODEL_LABELS[r.models[0]]}, {r.describe()}")
        b.download_button("Download .zip", lambda r=r: run_zip(Path(r.value)), file_name=f"{Path(r.value).name}.zip",
                          mime="application/zip", key=f"retrain_download_{Path(r.value).name}", icon=":material/download:",
                          on_click="ignore")
        if c.button("Use on Compare", key=f"retrain_use_{Path(r.value).name}", icon=":material/compare:"):
            st.session_state[weights_choice.PENDING_KEY] = r.key
            st.switch_page(st_page("compare"))
    shown = session_dir.relative_to(paths.REPO_ROOT) if session_dir.is_relative_to(paths.REPO_ROOT) else session_dir.name
    st.caption(f"Run folders of this session: {shown}. A zip holds spec.json (the architecture), the weights and "
               "the learning curves; load it with `colourise_core.training.load_run` or `--weights <folder>`.")


if __name__ == "__main__":  # Streamlit ran this file itself: see pages.serve_directly
    serve_directly()
