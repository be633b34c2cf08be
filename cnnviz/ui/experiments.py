"""The Training page's Experiments part: one click runs exactly what ``python -m cnnviz experiment NAME`` runs.

The experiment is a job of kind ``experiment`` (see :mod:`cnnviz.experiments.task`) of this browser's
owner; its id is in the link (``tr_exp_job``), so a reload reattaches to it. The page shows the job only
while the selected experiment is the job's: switching experiments shows the new one's results or nothing.
"""
from __future__ import annotations

import functools
import time
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from cnnviz import experiments, jobs
from cnnviz.experiments.depth import init_gradients
from cnnviz.jobs import JobView
from cnnviz.train.device import pick_device
from cnnviz.ui.figures import chart, chart_in
from cnnviz.ui.jobs import job_queue_message, time_left
from cnnviz.ui.owner import owner_key
from cnnviz.ui.state import friendly_errors, plain, style_chart, url_number, url_select, url_toggle

JOB = "tr_exp_job"
POLL_S = 0.5  # progress redraws twice a second
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
CONFIG = {"displaylogo": False}
_style = functools.partial(style_chart, legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0.0,
                                                 "xanchor": "left"})


def current_job(name: str) -> JobView | None:
    """This browser's experiment job named by the link, if it is of experiment ``name`` (else nothing is shown)."""
    raw = st.query_params.get(JOB)
    view = jobs.get(raw) if raw is not None else None
    if view is None or view.kind != "experiment" or view.owner != owner_key():
        return None
    return view if view.label == name else None


def start(name: str, seed: int, size: str) -> None:
    lease = float(st.get_option("server.disconnectedSessionTTL"))
    params = {"name": name, "seed": seed, "size": size, "device": "auto"}
    experiments.common.check(seed, size, "auto")
    st.query_params[JOB] = jobs.submit("experiment", params, owner=owner_key(), label=name, lease_s=max(lease, 10.0))


def show_progress(view: JobView) -> None:
    """Which run, its epoch, images/s and the experiment's time left (moves at least once a second)."""
    if view.state == "queued":
        st.info(job_queue_message(view), icon=":material/hourglass_top:")
        return
    if view.state == "failed":
        st.error(f"The experiment failed: {plain(view.error)}", icon="⚠️")
        return
    if view.state == "stopped":
        st.info("Stopped: a half-finished comparison shows no lesson, so nothing is kept.")
        return
    p = view.last("progress")
    if view.ended:
        return
    if p is None:
        st.progress(0.0, text=f"loading the data and building the models · {time_left(view.estimate_s)}")
        return
    left, elapsed = p.get("seconds_left"), time.time() - view.times.get("started", time.time())
    done = (elapsed / (elapsed + left) if isinstance(left, (int, float)) and elapsed + left > 0  # the time so far
            else (p["run_index"] + p["step"] / max(1, p["steps"])) / max(1, p["runs_total"]))
    stage = (f"{plain(p['phase'])} ({p.get('fraction', 0):.0%})" if "phase" in p
             else f"epoch {p['epoch']} / {p['epochs']}")
    text = (f"run {p['run_index'] + 1} of {p['runs_total']}: {plain(p['run'])} · {stage} · "
            f"{p['images_per_s']:,.0f} images/s · {time_left(p.get('seconds_left'))}")
    st.progress(min(1.0, done), text=text)


def _epochs(view: JobView) -> dict[str, list[dict[str, Any]]]:
    """Per run label, its epoch records so far (from the events)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in view.events:
        if e.get("type") == "epoch":
            out.setdefault(e["run"], []).append(e)
    return out


def curves_figures(view: JobView) -> list[go.Figure]:
    """Training loss and test accuracy after every epoch, one line per run."""
    loss, acc = go.Figure(), go.Figure()
    for (label, records), color in zip(_epochs(view).items(), COLORS * 3):
        x = [r["epoch"] for r in records]
        loss.add_scatter(x=x, y=[r["train_loss"] for r in records], mode="lines+markers", name=label,
                         line=dict(color=color))
        acc.add_scatter(x=x, y=[100 * r["test_accuracy"] for r in records], mode="lines+markers", name=label,
                        line=dict(color=color))
    _style(loss, "Training loss (mean over each epoch)", "epoch", "loss (cross-entropy)")
    _style(acc, "Test accuracy (after each epoch)", "epoch", "accuracy (%)", yaxis=dict(range=[0, 101]))
    return [loss, acc]


def gradients_figure(runs: dict[str, Any]) -> go.Figure | None:
    """Each run's gradient norm per layer at initialisation (dotted) and after its last epoch."""
    fig = go.Figure()
    for (label, run), color in zip(runs.items(), COLORS):
        records, names = run.get("grad_norms") or [], run.get("grad_layers") or []
        if not records:
            continue
        layers = list(range(1, len(records[0]["norms"]) + 1))
        hover = "%{text}: %{y:.3g}<extra></extra>"
        fig.add_scatter(x=layers, y=records[0]["norms"], mode="lines", name=f"{label} at init", text=names,
                        line=dict(color=color, dash="dot"), hovertemplate=hover)
        fig.add_scatter(x=layers, y=records[-1]["norms"], mode="lines", name=f"{label} after training",
                        text=names, line=dict(color=color), hovertemplate=hover)
    if not fig.data:
        return None
    _style(fig, "Gradient norm per layer (conv / fc weights, input first)", "layer (input → output)",
           "‖dLoss/dW‖ (log scale)", 380, yaxis=dict(type="log"))
    return fig


def results_table(runs: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for label, run in runs.items():
        for i, r in enumerate(run if isinstance(run, list) else [run]):
            rows.append({"run": f"{label} {i + 1}" if isinstance(run, list) else label,
                         "train acc %": round(100 * r["train_accuracy"], 1),
                         "test acc %": round(100 * r["test_accuracy"], 1),
                         "train loss": round(r["train_loss"], 4), "test loss": round(r["test_loss"], 4),
                         "parameters": r["params"], "seconds": r.get("seconds")})
    return pd.DataFrame(rows)


def show_result(name: str, result: dict[str, Any]) -> None:
    shown, words = experiments.lesson(name, result)
    head = "This run showed the lesson." if shown else "This run did NOT show the lesson."
    (st.success if shown else st.warning)(f"{head} {plain(words)}")
    st.caption(f"Seed {result['seed']}, {plain(result['device'])}, {result['seconds']:.1f} s.")
    st.dataframe(results_table(result["runs"]), hide_index=True)
    fig = gradients_figure(result["runs"]) if name == "activations" else None
    if fig is not None:
        chart(fig, config=CONFIG, key="tr_exp_grads")
        st.caption("Why: the sigmoid's derivative is at most 0.25, so each layer shrinks the gradient on its way "
                   "back; its first layers get the smallest gradients and barely learn. tanh and ReLU pass it on.")


def live(name: str) -> None:
    view = current_job(name)
    active = view is not None and not view.ended

    @st.fragment(run_every=POLL_S if active else None)
    def _live() -> None:
        view = current_job(name)
        if view is None:
            st.info("Press **Run experiment**: the result of this experiment shows here.")
            return
        show_progress(view)
        if not view.ended:
            c1, c2 = st.columns(2)
            figs = curves_figures(view)
            chart_in(c1, figs[0], config=CONFIG, key="tr_exp_loss")
            chart_in(c2, figs[1], config=CONFIG, key="tr_exp_acc")
        if active and view.ended:
            st.rerun()  # one full rerun: draws the result and stops this polling

    with st.container():
        _live()
    if view is not None and view.state == "finished" and view.result:
        c1, c2 = st.columns(2)
        figs = curves_figures(view)
        chart_in(c1, figs[0], config=CONFIG, key="tr_exp_loss_done")
        chart_in(c2, figs[1], config=CONFIG, key="tr_exp_acc_done")
        show_result(name, view.result)


@st.cache_data(show_spinner="Gradients at initialisation ...", max_entries=4)
def cached_init_gradients(batch_norm: bool) -> dict[str, list[tuple[str, float]]]:
    return init_gradients(batch_norm=batch_norm)


def init_gradients_figure(profile: dict[str, list[tuple[str, float]]], batch_norm: bool) -> go.Figure:
    fig = go.Figure()
    for (name, norms), color in zip(profile.items(), COLORS):
        fig.add_scatter(x=list(range(1, len(norms) + 1)), y=[v for _, v in norms], mode="lines", name=name,
                        line=dict(color=color), hovertemplate="%{text}: %{y:.3g}<extra></extra>",
                        text=[n for n, _ in norms])
    _style(fig, f"Gradient norm per layer at initialisation, batch norm {'on' if batch_norm else 'off'}",
           "layer (input → output)", "‖dLoss/dW‖ (log scale)", 380, yaxis=dict(type="log"))
    return fig


def experiments_section(lecture: bool) -> None:
    """Pick an experiment, read what it teaches and how it is set up, run it, see whether this run showed it."""
    rows = {row.name: row for row in experiments.list_experiments()}
    name = url_select("Experiment", "tr_exp", experiments.NAMES, "depth", format_func=lambda k: rows[k].title)
    default = "quick" if pick_device("auto").type == "cpu" else "full"
    size = url_select("Size", "tr_exp_size", experiments.SIZES, default, widget="segmented",
                      help="quick: the CPU default, each experiment in about a minute at most on two cores; full: "
                           "paper-sized, for a GPU") or default
    seed = url_number("Seed", "tr_exp_seed", 0, 0, 2**31 - 1, 1,
                      help="The random start (weights, batch order): the lesson should show at any seed")
    info = rows[name]
    st.markdown(f"**The lesson:** {info.lesson}.")
    st.markdown(f"**How:** {info.notes}")
    st.caption(f"The same as `python -m cnnviz experiment {name} --seed {seed} --size {size} --json`.")
    view = current_job(name)
    busy = view is not None and not view.ended
    c1, c2 = st.columns([1, 3])
    if c1.button("Run experiment", type="primary", disabled=busy, icon=":material/science:", key="tr_exp_run"):
        with friendly_errors("Experiment"):
            start(name, seed, size)
            st.rerun()
    if busy:
        c2.button("Stop the experiment", icon=":material/stop:", key="tr_exp_stop", on_click=jobs.cancel,
                  args=(view.id, owner_key()))
    live(name)
    if name == "depth":
        st.subheader("Vanishing or exploding? Gradients at initialisation")
        bn = url_toggle("Batch norm in the nets", "tr_exp_bn", False)
        with friendly_errors("Gradients at initialisation"):
            chart(init_gradients_figure(cached_init_gradients(bn), bn), config=CONFIG)
        st.caption("One batch of 32 CIFAR-shaped images (16x16), before any training. Without batch norm the plain "
                   "56-layer net's gradients shrink towards the input (vanishing), while the residual net's skip "
                   "connections carry the gradient back. With batch norm, as in He et al., the plain net's "
                   "gradients do not vanish at initialisation, yet it still trains worse than the 20-layer one: "
                   "the degradation is an optimisation problem.")
