"""Tests of runtime.app.syntax: Spin's naming rules and dotted key paths."""

from __future__ import annotations

import pytest

from runtime.app.syntax import (
    format_key,
    id_problem,
    kebab_problem,
    label_problem,
    lower_snake_problem,
)


class TestNames:
    @pytest.mark.parametrize("name", ["web", "my-web", "web2", "a-b-c", "API", "api-V1"[:3]])
    def test_good_component_ids(self, name: str) -> None:
        assert kebab_problem(name) is None

    @pytest.mark.parametrize(
        ("name", "why"),
        [
            ("", "empty"),
            ("my_web", "not '_'"),
            ("1-2-3", "start with an ASCII letter"),
            ("web--x", "must not be empty"),
            ("-web", "must not be empty"),
            ("myWeb", "all lowercase or all UPPERCASE"),
            ("wéb", "only ASCII letters and digits"),
            ("a.b", "only ASCII letters and digits"),
        ],
    )
    def test_bad_component_ids(self, name: str, why: str) -> None:
        problem = kebab_problem(name)
        assert problem is not None and why in problem

    @pytest.mark.parametrize("name", ["api_key", "a", "key2", "db_url_v2"])
    def test_good_variable_names(self, name: str) -> None:
        assert lower_snake_problem(name) is None

    @pytest.mark.parametrize("name", ["API", "api-key", "key_1", "_a", "a_", "a__b", "a b"])
    def test_bad_variable_names(self, name: str) -> None:
        assert lower_snake_problem(name) is not None

    @pytest.mark.parametrize("label", ["default", "my-store", "my_store", "STORE", "s3"])
    def test_good_labels(self, label: str) -> None:
        assert label_problem(label) is None

    @pytest.mark.parametrize("label", ["", "my store", "my-store_x", "1st", "a/b"])
    def test_bad_labels(self, label: str) -> None:
        assert label_problem(label) is not None

    def test_uppercase_words_are_fine_unless_lower(self) -> None:
        assert id_problem("API_KEY", "_", lower=False) is None
        assert id_problem("API_KEY", "_", lower=True) is not None


def test_format_key() -> None:
    assert format_key(("trigger", "http", 1, "route")) == "trigger.http[1].route"
    assert (
        format_key(("component", "web", "environment", "A.B")) == 'component.web.environment."A.B"'
    )
    assert format_key(()) == ""
