"""The client's reading of a job's server-sent events, byte for byte as Litestar (the API's
framework) encodes them: keep-alive comments, progress events, the end event, closing early,
and a missing job answered with the API's own 404."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import httpx
import pytest
from litestar.response.sse import ServerSentEventMessage
from synthts_tui.client import ApiError, SynthtsClient
from synthts_tui.local_api import LocalApi


def _stream_bytes(*messages: ServerSentEventMessage) -> bytes:
    return b"".join(m.encode() for m in messages)


def _client(body: bytes) -> SynthtsClient:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept"] == "text/event-stream"
        assert request.url.params["interval"] == "0.5"
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    return SynthtsClient("http://api.test", transport=httpx.MockTransport(answer))


def test_events_in_order_keep_alives_skipped_and_the_end_closes() -> None:
    progress = {"id": "job-1", "status": "running", "progress": 0.5, "trials": []}
    end = {**progress, "status": "succeeded", "progress": 1.0, "model": {"name": "m"}}
    body = _stream_bytes(
        ServerSentEventMessage(data=json.dumps(progress), event="progress", id=1),
        ServerSentEventMessage(comment="keep-alive"),  # Litestar adds an empty data line
        ServerSentEventMessage(data=json.dumps(end), event="end", id=2),
        ServerSentEventMessage(data='{"after": "the end"}', event="progress", id=3))
    with _client(body) as client:
        stream = client.job_events("job-1", interval=0.5)
        assert list(stream) == [("progress", progress), ("end", end)]
        assert stream.closed


def test_close_from_another_thread_ends_the_iteration() -> None:
    body = _stream_bytes(*(ServerSentEventMessage(data=json.dumps({"n": i}), event="progress")
                           for i in range(50)))
    with _client(body) as client:
        stream = client.job_events("job-1", interval=0.5)
        seen = []
        for _, data in stream:
            seen.append(data["n"])
            if data["n"] == 2:
                closer = threading.Thread(target=stream.close)
                closer.start()
                closer.join()
        assert seen == [0, 1, 2] and stream.closed


def test_unknown_job_is_the_apis_404(make_api: Callable[[str], LocalApi]) -> None:
    api = make_api("tui-events-404")
    with SynthtsClient(api.url) as client, pytest.raises(ApiError) as caught:
        list(client.job_events("job-doesnotexist"))
    assert caught.value.status == 404 and "job-doesnotexist" in caught.value.detail
