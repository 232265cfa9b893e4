"""The client-side limiter: never more than `limit` requests per window, as the server counts them."""

from __future__ import annotations

from connector.ratelimit import SlidingWindow
from tests.support.clock import FakeClock


def test_given_limit_reached_when_acquire_then_waits_until_the_oldest_answer_is_one_interval_old():
    clock = FakeClock(100.0)
    window = SlidingWindow(5, 1.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        window.acquire()
        clock.advance(0.01)  # latency
        window.release()
    first_answer = 100.01
    window.acquire()
    assert clock.now >= first_answer + 1.0


def test_given_requests_sent_back_to_back_then_no_window_at_the_server_ever_holds_more_than_the_limit():
    clock = FakeClock(100.0)
    window = SlidingWindow(3, 1.0, clock=clock, sleep=clock.sleep)
    arrivals = []
    for _ in range(30):
        window.acquire()
        arrivals.append(clock.now + 0.004)  # the server sees it a little after it was sent
        clock.advance(0.01)
        window.release()
    for t in arrivals:
        assert sum(1 for a in arrivals if t <= a < t + 1.0) <= 3


def test_given_headers_say_others_used_the_window_when_observe_then_their_share_is_booked():
    clock = FakeClock(100.0)
    window = SlidingWindow(10, 10.0, clock=clock, sleep=clock.sleep)
    window.acquire()
    window.release()
    window.observe(limit=10, remaining=2, interval_s=10.0)  # 8 used, 1 of them ours
    for _ in range(2):
        window.acquire()
        window.release()
    before = clock.now
    window.acquire()
    assert clock.now - before >= 9.0


def test_given_our_slot_freed_between_a_request_and_its_answer_when_observe_then_nothing_is_booked_for_others():
    clock = FakeClock(100.0)
    window = SlidingWindow(3, 10.0, clock=clock, sleep=clock.sleep)
    window.acquire()
    window.release()  # answered at 100.0: its slot frees at 110.0
    clock.advance(1.0)
    window.acquire()
    window.release()
    clock.advance(8.9)
    sent = window.acquire()  # 109.9: HubSpot counts all three when it arrives
    clock.advance(0.3)
    window.release()  # 110.2: the first slot freed meanwhile
    window.observe(limit=3, remaining=0, interval_s=10.0, sent=sent)
    before = clock.now
    window.acquire()  # the first slot is free: nobody else used the window
    assert clock.now == before


def test_given_others_used_the_window_while_a_request_was_out_when_observe_then_their_share_is_still_booked():
    clock = FakeClock(100.0)
    window = SlidingWindow(4, 10.0, clock=clock, sleep=clock.sleep)
    window.acquire()
    window.release()
    clock.advance(9.9)
    sent = window.acquire()
    clock.advance(0.3)  # our first slot frees; HubSpot counted it, ours now, and two of someone else's
    window.release()
    window.observe(limit=4, remaining=0, interval_s=10.0, sent=sent)
    before = clock.now
    window.acquire()  # ours and the two booked for others leave one slot
    assert clock.now == before
    window.release()
    window.acquire()  # now the window is full until they free
    assert clock.now - before >= 9.0


def test_given_header_max_when_observe_then_limit_and_interval_are_learned():
    window = SlidingWindow(100, 10.0)
    window.observe(limit=190, remaining=None, interval_s=10.0)
    assert window.limit == 190


def test_given_a_write_waits_when_a_slot_frees_then_it_goes_before_a_waiting_list_page():
    import threading

    window = SlidingWindow(1, 0.2)
    window.acquire()  # the window is full
    order: list[str] = []

    def request(name: str, background: bool) -> None:
        window.acquire(background=background)
        order.append(name)
        window.release()

    page = threading.Thread(target=request, args=("list page", True))
    page.start()
    write = threading.Thread(target=request, args=("write", False))
    write.start()
    window.release()  # the one slot frees 0.2 s from now: the write, though it came second, takes it
    page.join(5)
    write.join(5)
    assert order == ["write", "list page"]


def test_given_cancelled_while_waiting_when_acquire_then_it_gives_up_and_takes_no_slot():
    import pytest

    from connector.ratelimit import Cancelled

    clock = FakeClock(100.0)
    window = SlidingWindow(1, 10.0, clock=clock, sleep=clock.sleep)
    window.acquire()
    window.release()
    with pytest.raises(Cancelled):
        window.acquire(background=True, cancelled=lambda: clock.now > 101.0)
    assert clock.now < 110.0  # gave up within about a second, not after the window's 10 s
    clock.advance(10.0)
    window.acquire()  # the slot is free: the cancelled request never held it
