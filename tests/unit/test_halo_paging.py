"""Envelope parsing, id normalisation and the server-driven paginator."""

import pytest

from halo_c1.halo.errors import HaloPagingError
from halo_c1.halo.paging import HaloPagePaginator, normalize_id, parse_envelope


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, "12"), (12.0, "12"), ("12", "12"), ("03cbebd0-3443", "03cbebd0-3443"), ("", ""), (0, "0")],
)
def test_normalize_id_keeps_integers_and_strings(value, expected):
    assert normalize_id(value) == expected


@pytest.mark.parametrize("value", [None, True, False, 12.5, float("nan"), {"id": 1}, [1]])
def test_normalize_id_maps_anything_else_to_none(value):
    assert normalize_id(value) is None


def test_parse_envelope_accepts_a_bare_list():
    envelope = parse_envelope([{"id": 1}], "/api/Agent")
    assert envelope.rows == [{"id": 1}]
    assert envelope.bare
    assert envelope.record_count is None


@pytest.mark.parametrize("key", ["results", "agents", "users", "teams", "roles", "sites"])
def test_parse_envelope_finds_rows_under_known_keys_or_the_first_list(key):
    payload = {"page_no": 2, "page_size": "50", "record_count": 68.0, "tags": "x", key: [{"id": 3}]}
    envelope = parse_envelope(payload, "/api/X")
    assert envelope.rows == [{"id": 3}]
    assert (envelope.page_no, envelope.page_size, envelope.record_count) == (2, 50, 68)
    assert envelope.row_key == key


def test_parse_envelope_prefers_results_over_other_lists():
    envelope = parse_envelope({"record_count": 1, "columns": ["a"], "results": [{"id": 1}]}, "/api/Agent")
    assert envelope.row_key == "results"


def test_parse_envelope_rejects_objects_without_rows_naming_the_path():
    with pytest.raises(HaloPagingError, match=r"GET /api/Users returned an object with no list") as info:
        parse_envelope({"record_count": 3}, "/api/Users")
    assert not info.value.restartable
    with pytest.raises(HaloPagingError, match="JSON str"):
        parse_envelope("oops", "/api/Users")


def test_parse_envelope_allows_an_empty_object_listing():
    assert parse_envelope({"record_count": 0}, "/api/Users").rows == []


def pages(paginator, responses):
    """Drive a paginator through canned payloads; returns the pages read."""
    read = []
    params = paginator.init_request({"includeinactive": "true"})
    for payload in responses:
        read.append(paginator.update_state(parse_envelope(payload, paginator.path)))
        if not paginator.has_next_page:
            return read, params
        params = paginator.update_request(params)
    raise AssertionError("paginator wanted more pages than the test supplied")


class TestHaloPagePaginator:
    def test_init_request_asks_for_page_one_with_halo_paging_params(self):
        params = HaloPagePaginator("/api/Users", page_size=100).init_request({"a": "1"})
        assert params == {"a": "1", "pageinate": "true", "page_no": 1, "page_size": 100}

    def test_unpaged_listing_sends_no_paging_params(self):
        assert HaloPagePaginator("/api/Team", paged=False).init_request({"a": "1"}) == {"a": "1"}

    def test_update_state_stops_at_record_count_using_the_effective_page_size(self):
        # Asked for 200, the server caps at 50 and says so: 68 rows are two pages, not one.
        paginator = HaloPagePaginator("/api/Users", page_size=200)
        responses = [
            {"page_no": 1, "page_size": 50, "record_count": 68, "users": [{"id": i} for i in range(50)]},
            {"page_no": 2, "page_size": 50, "record_count": 68, "users": [{"id": i} for i in range(50, 68)]},
        ]
        read, params = pages(paginator, responses)
        assert [len(p.rows) for p in read] == [50, 18]
        assert params["page_no"] == 2
        assert read[-1].rows_so_far == 68

    def test_bare_list_is_the_whole_listing(self):
        read, _ = pages(HaloPagePaginator("/api/Agent"), [[{"id": 1}, {"id": 2}]])
        assert len(read) == 1

    def test_without_record_count_reads_until_an_empty_page(self):
        responses = [{"results": [{"id": 1}]}, {"results": [{"id": 2}]}, {"results": []}]
        read, _ = pages(HaloPagePaginator("/api/Agent"), responses)
        assert [len(p.rows) for p in read] == [1, 1, 0]

    def test_record_count_drift_is_a_restartable_anomaly(self):
        responses = [
            {"record_count": 4, "users": [{"id": 1}, {"id": 2}]},
            {"record_count": 5, "users": [{"id": 3}]},
        ]
        with pytest.raises(
            HaloPagingError, match=r"/api/Users page 2: record_count changed from 4 to 5"
        ) as info:
            pages(HaloPagePaginator("/api/Users"), responses)
        assert info.value.restartable

    def test_same_id_on_two_pages_is_a_restartable_anomaly(self):
        responses = [
            {"record_count": 4, "users": [{"id": 1}, {"id": 2}]},
            {"record_count": 4, "users": [{"id": 2}]},
        ]
        with pytest.raises(HaloPagingError, match="id 2 was already returned on page 1") as info:
            pages(HaloPagePaginator("/api/Users"), responses)
        assert info.value.restartable

    def test_more_rows_than_record_count_is_an_anomaly(self):
        responses = [{"record_count": 1, "users": [{"id": 1}, {"id": 2}]}]
        with pytest.raises(HaloPagingError, match="2 rows read but record_count is 1"):
            pages(HaloPagePaginator("/api/Users"), responses)

    def test_empty_page_before_record_count_is_an_anomaly(self):
        responses = [{"record_count": 3, "users": [{"id": 1}]}, {"record_count": 3, "users": []}]
        with pytest.raises(HaloPagingError, match="page 2 is empty after 1 of record_count 3"):
            pages(HaloPagePaginator("/api/Users"), responses)

    def test_rows_that_are_not_objects_fail_without_restart(self):
        with pytest.raises(HaloPagingError, match="row 1 is a JSON int, not an object") as info:
            pages(HaloPagePaginator("/api/Users"), [{"record_count": 2, "users": [{"id": 1}, 7]}])
        assert not info.value.restartable

    def test_bare_list_after_an_envelope_is_an_anomaly(self):
        responses = [{"record_count": 3, "results": [{"id": 1}]}, [{"id": 2}]]
        with pytest.raises(HaloPagingError, match="bare array although page 1"):
            pages(HaloPagePaginator("/api/Agent"), responses)

    def test_a_full_last_page_is_confirmed_with_one_more_request(self):
        responses = [
            {"page_size": 2, "record_count": 4, "users": [{"id": 1}, {"id": 2}]},
            {"page_size": 2, "record_count": 4, "users": [{"id": 3}, {"id": 4}]},
            {"page_size": 2, "record_count": 4, "users": []},
        ]
        read, params = pages(HaloPagePaginator("/api/Users", page_size=2), responses)
        assert [len(p.rows) for p in read] == [2, 2, 0]
        assert params["page_no"] == 3

    def test_a_short_last_page_needs_no_confirmation(self):
        responses = [
            {"page_size": 2, "record_count": 3, "users": [{"id": 1}, {"id": 2}]},
            {"page_size": 2, "record_count": 3, "users": [{"id": 3}]},
        ]
        read, _ = pages(HaloPagePaginator("/api/Users", page_size=2), responses)
        assert [len(p.rows) for p in read] == [2, 1]

    def test_record_count_understated_by_whole_pages_reads_every_row(self, caplog):
        # 5 rows, but every page says record_count 2: the confirmation page finds more.
        users = [{"id": i} for i in range(1, 6)]
        responses = [
            {"page_size": 2, "record_count": 2, "users": users[0:2]},
            {"page_size": 2, "record_count": 2, "users": users[2:4]},
            {"page_size": 2, "record_count": 2, "users": users[4:5]},
        ]
        with caplog.at_level("WARNING", logger="halo_c1.halo"):
            read, _ = pages(HaloPagePaginator("/api/Users", page_size=2), responses)
        assert [row["id"] for page in read for row in page.rows] == [1, 2, 3, 4, 5]
        assert "record_count 2 understates the listing" in caplog.text
