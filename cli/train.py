"""``emu train`` and ``emu sweep``: training runs on emulated registers."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from .common import dask_options, pyplot, threaded
from .output import check_writable, dumps, progress


@click.command()
@click.option("--model", type=click.Choice(["least_squares", "logistic", "softmax", "mlp"]),
              default="softmax", show_default=True)
@click.option("--hidden", default=32, show_default=True, help="mlp: hidden ReLU units.")
@click.option("--data", default="digits", show_default=True,
              help="digits | least_squares | logistic | fashion-mnist | mnist:DIR | FILE.npz (X, y; "
              "X_test, y_test optional) | FILE.csv (label last). Held-out splits: docs/semantics.md "
              "§11.")
@click.option("--train-size", type=int, default=None,
              help="Train on the first N training samples only (quick runs) [default: all].")
@click.option("--test-size", type=int, default=None,
              help="Evaluate on the first N test samples only [default: all].")
@click.option("--weights", default="e4m3", show_default=True,
              help="Weight format: an element format, or a block format (mxfp8_e4m3, mxfp8_e5m2, "
              "mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8, nvfp4) for the products' operands, quantized "
              "per product from a --master copy.")
@click.option("--activations", default=None, help="Activation format (element or block) [default: "
              "weights].")
@click.option("--grads", default=None, help="Gradient format (element or block; block gradients: "
              "SR per --grad-rounding) [default: weights].")
@click.option("--master", default=None,
              help="Block-format weights: the master copy's format, where the update rounds "
              "[default: fp32].")
@click.option("--acc", default=None,
              help="Matmul accumulator [default: fp32; fixed x fixed: a MAC of both widths + 16 guard "
              "bits, which must fit 64 bits].")
@click.option("--rounding", "-r", default="sr", show_default=True, help="Rounding of the update.")
@click.option("--grad-rounding", default="rne", show_default=True)
@click.option("--step-rounding", default="rne", show_default=True,
              help="Rounding of the step s = fl(t*g); scheme every_op only.")
@click.option("--eps", default=0.0, show_default=True, help="sr_eps / signed_sr_eps.")
@click.option("--scheme", type=click.Choice(["update", "every_op"]), default="update", show_default=True)
@click.option("--lr", default=0.5, show_default=True)
@click.option("--epochs", default=5, show_default=True)
@click.option("--batch", default=32, show_default=True, help="Minibatch size; 0 = full batch.")
@click.option("--seed", default=1, show_default=True,
              help="Data order and initial weights; also the LFSR's start state when --rng-seed "
              "is not given (then it must be 1..2^32-1).")
@click.option("--rng-seed", type=int, default=None,
              help="The 32-bit LFSR's start state for stochastic rounding, 1..2^32-1 "
              "[default: --seed].")
@click.option("--sr-bits", default=8, show_default=True,
              help="Random bits r per stochastic rounding, 1..32 (drawn from the 32-bit LFSR).")
@click.option("--out", "out_dir", type=click.Path(), default=None,
              help="Write history.json (deterministic) and timing.json here: a new directory, or an "
              "emu run to replace with --force.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Write the loss curve to this PNG (needs emu-arith[plot]).")
@click.option("--trace", "trace_dir", type=click.Path(), default=None,
              help="Write per-step golden vectors (weights, gradients, random words) here.")
@click.option("--force", is_flag=True, help="Replace an existing emu run at --out / trace at --trace.")
@click.option("--config", "config_path", type=click.Path(), default=None,
              help="A TOML file of these options (command-line options win).")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@click.pass_context
@threaded
def train(ctx, model, hidden, data, train_size, test_size, weights, activations, grads, master, acc,
          rounding, grad_rounding, step_rounding, eps, scheme, lr, epochs, batch, seed, rng_seed, sr_bits,
          out_dir, plot_path, trace_dir, force, config_path, as_json) -> None:
    """Train a model entirely on emulated registers; per-epoch loss, accuracy (training and
    held-out test set), stagnation."""
    from emu.outdir import staged, write_atomic
    from emu.train.linear import check_data
    from emu.train.linear import train as run_train
    from emu.train.options import DATA_OPTIONS, load_data, train_config
    from emu.train.plots import plot_history

    o = _read_config(config_path, ctx) if config_path else dict(ctx.params)
    for key in ("out_dir", "trace_dir", "plot_path", "data"):
        if o[key] is not None and not isinstance(o[key], str):
            raise click.UsageError(f"{key.replace('_dir', '').replace('_path', '')} = {o[key]!r}: "
                                   "needs a path or name (a string)")
    for key, opt in (("out_dir", "--out"), ("trace_dir", "--trace"), ("plot_path", "--plot")):
        if o[key] is not None and not o[key].strip():
            raise click.UsageError(f"{opt} {o[key]!r}: an empty path; give a path, or leave "
                                   f"{opt} out")
    out_dir, trace_dir, plot_path = o["out_dir"], o["trace_dir"], o["plot_path"]
    if out_dir and trace_dir:
        o_, t_ = Path(out_dir).resolve(), Path(trace_dir).resolve()
        if o_ == t_ or o_.is_relative_to(t_) or t_.is_relative_to(o_):
            raise click.UsageError("--out and --trace must be different directories, neither inside "
                                   "the other (each is replaced whole)")
    if plot_path:
        pyplot()  # matplotlib missing: say so before the training, not after it
        check_writable(plot_path)

    def show(e):
        if not as_json:
            a = "" if e["accuracy"] is None else f"  accuracy {e['accuracy']:.4f}"
            if e["test_loss"] is not None:
                a += f"  test loss {e['test_loss']:.5g}"
            if e["test_accuracy"] is not None:
                a += f"  test accuracy {e['test_accuracy']:.4f}"
            click.echo(f"epoch {e['epoch']:>3}  loss {e['loss']:.5g}{a}  stagnant "
                       f"{e['stagnant_share']:.1%}  ({e['seconds']:.2f} s)")

    try:
        # --out is staged first: an unusable directory fails before the training, and an
        # interrupted run leaves the old results in place
        with staged(out_dir, "training run", force) if out_dir else contextlib.nullcontext() as tmp:
            cfg = train_config(o)  # every option checked before the data loads
            ds, test = load_data(o)
            check_data(ds, cfg, test)  # and the data against the model, before the header
            if not as_json:
                click.echo(_header(cfg, ds, test))
            steps = cfg.epochs * -(-len(ds) // (cfg.batch or len(ds)))
            with progress(steps, "steps", quiet=as_json) as advance:
                _, hist = run_train(ds, cfg, progress=show, trace_dir=trace_dir, force=force,
                                    on_step=lambda done, total: advance(done), test=test)
            # the config holds the data options too, so `emu train --config` of it reruns the
            # run; "data" beside it is the display name
            doc = {"config": {**hist.config, **{k: o[k] for k in DATA_OPTIONS}}, "data": ds.name,
                   "test_data": None if test is None else test.name, "epochs": hist.epochs,
                   "steps": hist.steps}
            if tmp is not None:
                write_atomic(tmp / "history.json", dumps(doc) + "\n")
                write_atomic(tmp / "timing.json", dumps({"epoch_seconds": hist.seconds}) + "\n")
            if plot_path:
                plot_history(doc, plot_path)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if as_json:
        click.echo(dumps({**doc, "epoch_seconds": hist.seconds}))


def _samples(n: int) -> str:
    return f"{n} sample" + ("" if n == 1 else "s")


def _header(cfg, ds, test) -> str:
    """The run's one-line summary: the data, the formats, each stage's rounding (the step only
    under every_op) and eps once."""
    held = f", test {test.name} ({_samples(len(test))})" if test is not None else ", no test set"
    stages = [("grad", cfg.grad_rounding)] + ([("step", cfg.step_rounding)]
                                              if cfg.scheme == "every_op" else [])
    rounding = ", ".join(f"{k} {v}" for k, v in stages + [("update", cfg.rounding)])
    wf, af, gf, pf = cfg.formats()
    formats = f"weights {cfg.weights}" + (f" (master {pf.name})" if pf is not wf else "")
    formats += "".join(f", {k} {v}" for k, v in (("activations", cfg.activations),
                                                  ("grads", cfg.grads)) if v is not None)
    return (f"{cfg.model} on {ds.name} ({_samples(len(ds))}{held}), {formats}, "
            f"rounding: {rounding}" + (f" (eps {cfg.eps})" if cfg.eps else "")
            + f"; scheme {cfg.scheme}, lr {cfg.lr}, batch {cfg.batch}")


def _read_config(path: str, ctx) -> dict:
    """Options from a TOML file; options given on the command line take precedence."""
    from emu.train.options import read_toml

    try:
        cfg = read_toml(path)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    cfg = cfg.get("train", cfg)
    if not isinstance(cfg, dict):
        raise click.UsageError(f"{path}: [train] must be a table of options")
    aliases = {"out": "out_dir", "trace": "trace_dir", "plot": "plot_path"}  # TOML spellings
    names = {p.name for p in ctx.command.params} - {"config_path", "as_json", "force", "threads"}
    names = (names - set(aliases.values())) | set(aliases)
    unknown = sorted(set(cfg) - names)
    if unknown:
        raise click.UsageError(f"{path}: unknown option(s) {', '.join(unknown)}; valid: "
                               f"{', '.join(sorted(names))}")
    cfg = {aliases.get(k, k): v for k, v in cfg.items()}
    opts = dict(ctx.params)
    for k, v in cfg.items():
        if ctx.get_parameter_source(k) != click.core.ParameterSource.COMMANDLINE:
            opts[k] = v
    return opts


@click.command()
@click.argument("config_path", metavar="CONFIG.toml", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Results directory [default: sweep-<CONFIG stem>].")
@dask_options("the runs")
@click.option("--resume", is_flag=True, help="Keep finished tasks in --out and run the rest.")
@click.option("--force", is_flag=True, help="Replace an existing emu sweep at --out.")
@click.option("--task-threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Kernel threads inside each task.")
@click.option("--retries", type=click.IntRange(min=0), default=1, show_default=True,
              help="Retries of a task that raised.")
@click.option("--max-runs", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Refuse a sweep file that expands to more runs than this.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Write every run's loss curve to this PNG (needs emu-arith[plot]).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def sweep(config_path, out_dir, scheduler, workers, in_process, resume, force, task_threads, retries,
          max_runs, plot_path, as_json) -> None:
    """Run a grid of training runs (a sweep file; see emu.train.sweep) on Dask: a local cluster
    on 127.0.0.1 by default. One row per run: options, final loss, accuracy, stagnant share,
    wall time; results also in OUT/results.csv and OUT/results.json."""
    from emu.cluster import DaskMissing
    from emu.outdir import check_target, is_artefact
    from emu.train import sweep as sw
    from emu.train.options import read_toml
    from emu.train.plots import plot_sweep

    if in_process and (scheduler or workers):
        raise click.UsageError("--local runs in this process; drop --scheduler/--workers")
    if resume and force:
        raise click.UsageError("--resume keeps the finished tasks, --force replaces them: give one")
    if plot_path:
        pyplot()  # matplotlib missing or a bad path: say so before the sweep, not after it
        check_writable(plot_path)
    try:
        tasks = sw.expand(read_toml(config_path), config_path, max_runs)
        out_dir = out_dir or f"sweep-{Path(config_path).stem}"
        if not (is_artefact(Path(out_dir), "sweep") or resume or force):
            check_target(out_dir, "sweep")  # sw.sweep says how to go on with an existing sweep
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    varied = [k for k in sw.OPTIONS if len({json.dumps(t[k]) for t in tasks}) > 1]
    with progress(len(tasks), f"{len(tasks)} runs", quiet=as_json) as advance:
        finished = []

        def tick(res):
            finished.append(res)
            advance(len(finished))

        try:
            results = sw.sweep(tasks, out_dir, resume=resume, force=force, scheduler=scheduler,
                               workers=workers, local=in_process, task_threads=task_threads,
                               retries=retries, progress=tick)
        except DaskMissing as err:
            raise click.UsageError(f"{err}; or run with --local") from None
        except (FileExistsError, ValueError) as err:
            raise click.UsageError(str(err)) from None
    if plot_path:
        plot_sweep(results, varied, plot_path)
    if as_json:
        click.echo(dumps({"results": results}))
    else:
        click.echo(" ".join(f"{k:>14}" for k in varied)
                   + f" {'final loss':>11} {'accuracy':>9} {'stagnant':>9} {'wall s':>7}  status")
        for r in results:
            cfg = " ".join(f"{str(r['config'][k]):>14}" for k in varied)
            if r["status"] != "ok":
                click.echo(f"{cfg} {'-':>11} {'-':>9} {'-':>9} {'-':>7}  {r.get('error', r['status'])}")
                continue
            acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.4f}"
            click.echo(f"{cfg} {r['final_loss']:>11.5g} {acc:>9} {r['stagnant_share']:>9.1%} "
                       f"{r['wall_s']:>7.2f}  ok")
        click.echo(f"results: {Path(out_dir) / 'results.csv'}, {Path(out_dir) / 'results.json'}")
    if any(r["status"] != "ok" for r in results):
        sys.exit(1)
