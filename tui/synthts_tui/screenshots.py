"""SVG screenshots of every page for the README, from a real API on demo data.

    python -m synthts_tui.screenshots [--out docs/images] [--api URL]

Without ``--api`` it serves the API in-process on a fresh temp data folder, seeds the demo
datasets below and saves ``tui-<page>.svg`` per page. The snapshot tests drive the pages into
the same states with ``prepare_page``, so the README images and the tests show one thing.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthts_tui.app import SynthtsApp
from synthts_tui.client import ApiError, SynthtsClient

PAGES = tuple(page.MODE for page in SynthtsApp.PAGES)
SCREEN_SIZE = (150, 46)


def _sine_class(label: str, frequency: float, count: int) -> dict[str, Any]:
    return {"label": label, "count": count,
            "signal": {"generator": "sinusoidal", "params": {"frequency": frequency}},
            "noise": {"generator": "gaussian_noise", "params": {"std": 0.05}}}


DEMO_DATASETS: tuple[dict[str, Any], ...] = (
    {"name": "harmonics-demo", "description": "three tones with a little noise",
     "spec": {"length": 128, "seed": 7, "sampling": {"step": 0.05},
              "classes": [_sine_class("slow", 0.25, 20), _sine_class("mid", 0.5, 20),
                          _sine_class("fast", 1.0, 20)]}},
    {"name": "tones-small", "description": "two tones, clean",
     "spec": {"length": 64, "seed": 3, "sampling": {"step": 0.1},
              "classes": [{"label": "low", "count": 10,
                           "signal": {"generator": "sinusoidal", "params": {"frequency": 0.2}}},
                          {"label": "high", "count": 10,
                           "signal": {"generator": "sinusoidal", "params": {"frequency": 0.8}}}]}},
)


def seed_demo_data(client: SynthtsClient) -> list[str]:
    """Create the demo datasets (idempotent: existing ones are kept)."""
    names = []
    for body in DEMO_DATASETS:
        try:
            client.create_dataset(body)
        except ApiError as exc:
            if exc.status != 409:
                raise
        names.append(body["name"])
    return names


async def _until(pilot: Any, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("the page did not finish loading")
        await pilot.pause(0.05)
    return value


async def prepare_page(pilot: Any, page: str) -> None:
    """Open ``page`` and bring it to a settled, representative state (data loaded, a dataset
    selected and plotted, a preview drawn), with focus off any text input."""
    app = pilot.app
    if app.current_mode != page:
        app.switch_mode(page)
    screen = await _until(pilot, lambda: page == app.screen.MODE and app.screen)
    await _until(pilot, lambda: screen.is_mounted)
    if page == "home":
        await _until(pilot, lambda: screen.loaded == {"ready", "summary"})
    elif page == "generate":
        await _until(pilot, lambda: screen.query_one("#preview").drawn)
    elif page == "datasets":
        await _until(pilot, lambda: screen.items)
        screen.select_dataset(screen.items[0]["name"])
        await _until(pilot, lambda: screen.query_one("#dataset-plot").drawn)
    elif page == "train":
        await _until(pilot, lambda: screen.choices_loaded and screen.jobs_loaded)
        select = screen.query_one("#train-dataset")
        if screen.datasets:
            select.value = next(iter(screen.datasets))
        if screen.jobs:  # show the newest job with its trials and curves
            screen.watched = screen.jobs[0]["id"]
            screen.load_jobs()
            await _until(pilot, lambda: screen.watched_job is not None)
    elif page == "models":
        await _until(pilot, lambda: screen.models_loaded)
        if screen.models:  # generate a few series per label from the newest version
            await _until(pilot, lambda: screen.version is not None)
            screen.action_generate()
            await _until(pilot, lambda: screen.generated, timeout=60)
    elif page == "evaluate":
        await _until(pilot, lambda: screen.choices_loaded)
        await _evaluate_first_model(pilot, screen)
    app.set_focus(None)
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()


async def _evaluate_first_model(pilot: Any, screen: Any) -> None:
    """Score the first registered model by MMD against the dataset it learned."""
    client = pilot.app.client
    models = await asyncio.to_thread(client.list_models)
    if not models:
        return
    name = models[0]["name"]
    version = (await asyncio.to_thread(client.list_versions, name))[0]
    dataset = (version.get("config") or {}).get("dataset") or {}
    if not dataset.get("name"):
        return
    screen.query_one("#eval-model").value = name
    screen.query_one("#eval-dataset").value = dataset["name"]
    screen.query_one("#eval-metrics").select("mmd")
    await pilot.pause()
    screen.action_run()
    await _until(pilot, lambda: screen.embedding, timeout=120)


def train_demo_model(client: SynthtsClient, dataset: str = "tones-small",
                     timeout: float = 600.0) -> dict[str, Any]:
    """A small search (2 trials, a few epochs) so the Train, Models and Evaluate pictures
    have something to show; returns the finished job."""
    job = client.submit_job({
        "dataset": dataset, "architectures": ["cgan", "wgan_gp"], "num_trials": 2,
        "epochs": 5, "model_name": "tones-gan", "max_concurrent": 2,
        "search_space": {"latent_dim": 16, "batch_size": 16, "conv_width": 8,
                         "conv_layers": 2}})
    deadline = time.monotonic() + timeout
    while not job.get("terminal"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"training job {job['id']} did not finish in {timeout:.0f} s")
        time.sleep(1.0)
        job = client.get_job(job["id"])
    return job


async def save_all(client: SynthtsClient, out: Path, size: tuple[int, int] = SCREEN_SIZE
                   ) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    app = SynthtsApp(client, stable=True)
    async with app.run_test(size=size) as pilot:
        for page in PAGES:
            await prepare_page(pilot, page)
            path = out / f"tui-{page}.svg"
            app.save_screenshot(filename=path.name, path=str(out))
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/images", help="folder for tui-<page>.svg")
    parser.add_argument("--api", default=None, help="use this API instead of a local one")
    parser.add_argument("--train", action="store_true",
                        help="train a small model first (needs Ray; about a minute)")
    args = parser.parse_args(argv)

    import logging

    logging.disable(logging.INFO)
    local = None
    url = args.api
    if url is None:
        from synthts_core.settings import Settings
        from synthts_tui.local_api import LocalApi

        data_dir = tempfile.mkdtemp(prefix="synthts-screenshots-")
        local = LocalApi(Settings(data_dir=data_dir, _env_file=None)).start()
        url = local.url
    try:
        with SynthtsClient(url) as client:
            seed_demo_data(client)
            if args.train:
                job = train_demo_model(client)
                print(f"training job {job['id']}: {job['status']}")
            for path in asyncio.run(save_all(client, Path(args.out))):
                print(path)
    finally:
        if local is not None:
            local.stop()


if __name__ == "__main__":
    main()
