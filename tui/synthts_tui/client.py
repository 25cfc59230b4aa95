"""A typed HTTP client of the synthts API, one method per API operation.

The TUI never touches storage, Ray or the tracker: everything goes through here, so the same
screens work against a local API started in-process and a remote one. Calls are synchronous
(httpx.Client) because they run in thread workers; every failure becomes an ``ApiError``
carrying the API's problem ``detail`` (and ``field`` when the API names one), so screens can
show the server's own words or put a message on the offending form field.
"""

from __future__ import annotations

import json as jsonlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx

API_PREFIX = "/api/v1"


class ApiError(Exception):
    """The API answered with an error (problem details) or could not be reached."""

    def __init__(self, detail: str, *, status: int | None = None, field: str | None = None,
                 problem: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.field = field
        self.problem = dict(problem or {})

    def __str__(self) -> str:
        return self.detail

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):  # problem details (a failed /ready sends its checks)
            detail = body.get("detail") or response.reason_phrase
            return cls(str(detail), status=response.status_code, field=body.get("field"),
                       problem=body)
        # not the API's answer (e.g. a proxy's error page)
        text = response.text.strip()[:300] or response.reason_phrase
        return cls(f"HTTP {response.status_code}: {text}", status=response.status_code)


class JobEventStream:
    """A job's server-sent events (``GET /jobs/{id}/events``) as ``(event, data)`` pairs:
    ``progress`` events while it runs, then one ``end`` event with the whole job, then the
    stream ends. Iterate it in a worker thread; ``close()`` from any thread ends the iteration
    (the blocked read fails and the loop stops quietly)."""

    def __init__(self, http: httpx.Client, base_url: str, job_id: str,
                 interval: float | None = None) -> None:
        self._http = http
        self.base_url = base_url
        self.job_id = job_id
        self.interval = interval
        self._response: httpx.Response | None = None
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()
        response = self._response
        if response is not None:
            response.close()

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        params = {"interval": self.interval} if self.interval else None
        request = self._http.build_request(
            "GET", f"{API_PREFIX}/jobs/{self.job_id}/events", params=params,
            headers={"Accept": "text/event-stream"},
            # keep-alive comments come every 15 s: a longer silence is a dead server
            timeout=httpx.Timeout(10.0, read=60.0))
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self.base_url}: {exc}") from exc
        self._response = response
        try:
            if response.status_code >= 400:
                response.read()
                raise ApiError.from_response(response)
            if self.closed:
                return
            yield from self._events(response)
        except (httpx.HTTPError, RuntimeError) as exc:  # closed under us, or the link died
            if not self.closed:
                raise ApiError(f"the job event stream of {self.base_url} broke: {exc}") from exc
        finally:
            response.close()
            self._closed.set()

    def _events(self, response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
        event, data = "message", []
        for line in response.iter_lines():
            if self.closed:
                return
            if not line:  # a blank line ends an event
                if "".join(data).strip():  # keep-alives come as a comment with empty data
                    if event == "end":  # the last one: the stream is over before it is handed on
                        self._closed.set()
                        response.close()
                        yield event, jsonlib.loads("\n".join(data))
                        return
                    yield event, jsonlib.loads("\n".join(data))
                event, data = "message", []
            elif line.startswith(":"):
                continue  # a keep-alive comment
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    event = value
                elif name == "data":
                    data.append(value)


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset query parameters so the API applies its own defaults."""
    return {k: v for k, v in params.items() if v is not None and v != [] and v != ""}


class SynthtsClient:
    """Client of one API at ``base_url`` (``http://127.0.0.1:8000``)."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout,
                                  transport=transport)

    # -------------------------------------------------------------------------- plumbing
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SynthtsClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                 json: Any = None, accept: str | None = None) -> httpx.Response:
        headers = {"Accept": accept} if accept else None
        try:
            response = self._http.request(method, API_PREFIX + path,
                                          params=_clean(params or {}), json=json,
                                          headers=headers)
        except httpx.TimeoutException as exc:
            raise ApiError(f"the API at {self.base_url} did not answer in time ({exc})") from exc
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = self._request(method, path, **kw)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # -------------------------------------------------------------------------- health
    def live(self) -> dict[str, Any]:
        return self._json("GET", "/health")

    def ready(self) -> dict[str, Any]:
        """Readiness with one entry per component (storage, tracker, ray). A 503 still
        carries the per-component report, so it is returned rather than raised."""
        try:
            return self._json("GET", "/ready")
        except ApiError as exc:
            if exc.status == 503 and exc.problem:
                return exc.problem
            raise

    def info(self) -> dict[str, Any]:
        """What the server is connected to (storage, tracker, Ray), its limits and counts."""
        return self._json("GET", "/info")

    def plugins(self) -> list[dict[str, Any]]:
        return self._json("GET", "/plugins")

    # -------------------------------------------------------------------------- signals
    def catalogue(self) -> dict[str, Any]:
        """``signals``, ``noises`` and ``presets``; each generator with its parameter schema."""
        items = self._json("GET", "/signals")["items"]
        return {"signals": [g for g in items if g["kind"] == "signal"],
                "noises": [g for g in items if g["kind"] == "noise"],
                "presets": self.presets()}

    def presets(self) -> list[dict[str, Any]]:
        """Named dataset specs (e.g. the seed's ten harmonics) with their default spec."""
        return self._json("GET", "/presets")["items"]

    def preview(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A few series for given parameters, not stored."""
        return self._json("POST", "/signals/preview", json=dict(body))

    # -------------------------------------------------------------------------- datasets
    def create_dataset(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/datasets", json=dict(spec))

    def list_datasets(self, *, offset: int = 0, limit: int = 20, name_contains: str | None = None,
                      sort: str | None = None) -> dict[str, Any]:
        return self._json("GET", "/datasets", params={
            "offset": offset, "limit": limit, "name_contains": name_contains, "sort": sort})

    def get_dataset(self, name: str) -> dict[str, Any]:
        return self._json("GET", f"/datasets/{name}")

    def dataset_values(self, name: str, *, labels: Iterable[str] | None = None,
                       per_label: int | None = None, channels: Iterable[int] | None = None,
                       offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """``values[series][channel][t]`` with one label index per series, as JSON."""
        return self._json("GET", f"/datasets/{name}/values", params={
            "label": list(labels or []), "per_label": per_label, "channel": list(channels or []),
            "offset": offset or None, "limit": limit, "format": "json"})

    def dataset_figure_html(self, name: str, *, per_label: int | None = None) -> str:
        return self._request("GET", f"/datasets/{name}/figure",
                             params={"format": "html", "per_label": per_label},
                             accept="text/html").text

    def export_dataset(self, name: str, fmt: str = "csv") -> bytes:
        return self._request("GET", f"/datasets/{name}/export", params={"format": fmt},
                             accept="*/*").content

    def upload_dataset(self, name: str, payload: Mapping[str, Any], *,
                       tags: Iterable[str] | None = None) -> dict[str, Any]:
        """Store series given as ``{"values": [[[...]]], "labels": [...], "label_names":
        [...]}`` (e.g. what a model generated) as a new dataset."""
        import json

        try:
            response = self._http.post(
                API_PREFIX + "/datasets/upload",
                params=_clean({"name": name, "format": "json", "tags": list(tags or [])}),
                content=json.dumps(dict(payload)).encode(),
                headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response.json()

    def delete_dataset(self, name: str) -> None:
        self._json("DELETE", f"/datasets/{name}")

    # -------------------------------------------------------------------------- training
    def architectures(self) -> list[dict[str, Any]]:
        return self._json("GET", "/architectures")["items"]

    def submit_job(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/jobs", json=dict(spec))

    def list_jobs(self, *, offset: int = 0, limit: int = 20,
                  status: str | None = None) -> dict[str, Any]:
        return self._json("GET", "/jobs", params={"offset": offset, "limit": limit,
                                                 "status": status})

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{job_id}")

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self._json("POST", f"/jobs/{job_id}/cancel")

    def resume_job(self, job_id: str) -> dict[str, Any]:
        """Resume a stale (or failed) job in the API's background; 409 for a live one."""
        return self._json("POST", f"/jobs/{job_id}/resume")

    def fail_job(self, job_id: str, reason: str) -> dict[str, Any]:
        """Mark a stale job failed with ``reason``; 409 for any other job."""
        return self._json("POST", f"/jobs/{job_id}/fail", json={"reason": reason})

    def job_events(self, job_id: str, *, interval: float | None = None) -> JobEventStream:
        """Follow a job as server-sent events instead of polling it (see ``JobEventStream``);
        ``interval`` is how often the server re-reads the job (0.1 to 60 s)."""
        return JobEventStream(self._http, self.base_url, job_id, interval)

    # -------------------------------------------------------------------------- registry
    def list_models(self) -> list[dict[str, Any]]:
        return self._json("GET", "/models")["items"]

    def list_versions(self, model: str) -> list[dict[str, Any]]:
        return self._json("GET", f"/models/{model}/versions")["items"]

    def generate(self, model: str, version: str, *, n: int, labels: Iterable[str] | None = None,
                 seed: int | None = None, length: int | None = None,
                 missing: str = "none") -> dict[str, Any]:
        body = _clean({"n": n, "labels": list(labels or []), "seed": seed, "length": length,
                       "missing": None if missing == "none" else missing})
        return self._json("POST", f"/models/{model}/versions/{version}/generate", json=body)

    def interpolate(self, model: str, version: str, *, steps: int, start_label: str | None = None,
                    end_label: str | None = None, seed: int | None = None) -> dict[str, Any]:
        body = _clean({"steps": steps, "start_label": start_label, "end_label": end_label,
                       "seed": seed})
        return self._json("POST", f"/models/{model}/versions/{version}/interpolate", json=body)

    def samples_figure_html(self, model: str, version: str, *, n: int,
                            labels: Iterable[str] | None = None, seed: int | None = None,
                            dataset: str | None = None) -> str:
        """A standalone plotly page of generated series (beside ``dataset``'s when given)."""
        body = _clean({"n": n, "labels": list(labels or []), "seed": seed})
        return self._request("POST", f"/models/{model}/versions/{version}/generate/figure",
                             params={"format": "html", "dataset": dataset}, json=body,
                             accept="text/html").text

    def interpolation_figure_html(self, model: str, version: str, *, steps: int,
                                  start_label: str | None = None, end_label: str | None = None,
                                  seed: int | None = None) -> str:
        """The latent interpolation as an animated plotly page."""
        body = _clean({"steps": steps, "start_label": start_label, "end_label": end_label,
                       "seed": seed})
        return self._request("POST", f"/models/{model}/versions/{version}/interpolate/figure",
                             params={"format": "html"}, json=body, accept="text/html").text

    # -------------------------------------------------------------------------- evaluation
    def metrics(self) -> list[dict[str, Any]]:
        return self._json("GET", "/metrics")["items"]

    def evaluate(self, model: str, version: str, *, dataset: str,
                 metrics: Iterable[str] | None = None, n_per_label: int | None = None,
                 seed: int | None = None) -> dict[str, Any]:
        body = _clean({"model": model, "version": version, "dataset": dataset,
                       "metrics": list(metrics or []), "n_per_label": n_per_label, "seed": seed})
        return self._json("POST", "/evaluations", json=body)
