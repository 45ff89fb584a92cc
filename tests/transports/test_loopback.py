"""Tests for the in-process loopback transport pair."""

from __future__ import annotations

import pytest

from cpagent.transports.events import FrameReceived, TransportDown, TransportUp
from cpagent.transports.loopback import LoopbackLink
from tests.support.recorder import EventRecorder


def test_up_only_when_both_ends_started_then_frames_flow_in_order() -> None:
    link = LoopbackLink("ocpp2.0.1")
    a_events, b_events = EventRecorder(), EventRecorder()
    a, b = link.end(a_events.post), link.end(b_events.post)
    a.start()
    assert a.send("lost") is False
    b.start()
    try:
        assert a_events.wait_for(TransportUp) == TransportUp("ocpp2.0.1")
        b_events.wait_for(TransportUp)
        assert all(a.send(str(n)) for n in range(50))
        assert b.send("back")
        b_events.wait_for(FrameReceived, count=50)
        assert [e.text for e in b_events.of(FrameReceived)] == [str(n) for n in range(50)]
        assert a_events.wait_for(FrameReceived) == FrameReceived("back")
    finally:
        a.stop()
        b.stop()
    assert b_events.wait_for(TransportDown).reason == "peer stopped"
    assert a_events.of(TransportDown) == [TransportDown("stopped")]


def test_cut_and_restore_report_down_then_up_on_both_ends() -> None:
    link = LoopbackLink()
    recorders = [EventRecorder(), EventRecorder()]
    ends = [link.end(r.post) for r in recorders]
    for end in ends:
        end.start()
    try:
        link.cut("cable pulled")
        for recorder in recorders:
            assert recorder.wait_for(TransportDown).reason == "cable pulled"
        assert ends[0].send("x") is False
        link.restore()
        for recorder in recorders:
            recorder.wait_for(TransportUp, count=2)
        assert ends[1].send("y")
        recorders[0].wait_for(FrameReceived)
    finally:
        for end in ends:
            end.stop()


def test_a_link_has_two_ends() -> None:
    link = LoopbackLink()
    link.end(lambda _e: None)
    link.end(lambda _e: None)
    with pytest.raises(RuntimeError):
        link.end(lambda _e: None)
