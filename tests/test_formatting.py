import math
from pathlib import Path

import pytest

from haplo_report.formatting import (fmt_ci, fmt_count_percent, fmt_estimate_ci, fmt_p_value,
                                     fmt_percent, fmt_quantile_ci, fmt_scientific)


def test_estimate_with_ci_as_percent():
    assert fmt_estimate_ci(0.72449, 0.5312, 0.849) == "72.4 (53.1, 84.9)"


def test_not_estimable_is_ne_never_a_number():
    assert fmt_estimate_ci(None, 0.1, 0.2) == "NE"
    assert fmt_estimate_ci(0.0, None, None) == "0.0 (-)"  # 0 events: CI not defined
    assert fmt_estimate_ci(1.0, math.nan, math.nan) == "100.0 (-)"
    assert fmt_estimate_ci(0.9, 0.7, None) == "90.0 (70.0, NE)"
    assert fmt_estimate_ci(math.nan, 0.1, 0.2) == "NE"
    assert fmt_ci(0.5, None) == "(50.0, NE)"
    assert fmt_percent(None) == "NE"


def test_count_percent_and_p_values():
    assert fmt_count_percent(12, 31) == "12 (38.7)"
    assert fmt_count_percent(0, 31) == "0"
    assert fmt_p_value(0.0004) == "<0.001"
    assert fmt_p_value(0.04567) == "0.046"


def test_quantile_not_reached_reads_as_words_with_its_ci():
    assert fmt_quantile_ci(None, 337.0, None) == "Not reached (337, NE)"
    assert fmt_quantile_ci(float("nan"), None, None) == "Not reached"
    assert fmt_quantile_ci(278.0, 137.0, None) == "278 (137, NE)"


def test_scientific_uses_times_ten_to_the_power():
    assert fmt_scientific(8.1e-4) == "8.1\u00d710\u207b\u2074"
    assert fmt_scientific(1.23e-2, 2) == "1.23\u00d710\u207b\u00b2"
    assert fmt_scientific(1e-4, 0) == "1\u00d710\u207b\u2074"
    assert fmt_scientific(0.0) == "0" and fmt_scientific(None) == "NE"


def test_ci_in_running_text():
    from haplo_report.formatting import fmt_ci_words

    assert fmt_ci_words(0.531, 0.849) == "95% CI 53.1, 84.9"
    assert fmt_ci_words(None, None) == "95% CI not defined"
    assert fmt_ci_words(337, None, percent=False, decimals=0) == "95% CI 337, NE"


def test_whole_number_data_without_decimals():
    from haplo_report.formatting import fmt_whole

    assert [fmt_whole(v) for v in (37.0, 44.75, 10.0, 8.25, None)] == [
        "37", "44.8", "10", "8.2", "NE"]


def test_one_statistic_of_whole_data_has_one_number_of_decimals():
    # "37 (32, 44.8)" mixed decimals within one statistic
    from haplo_report.formatting import fmt_whole_together

    assert fmt_whole_together([37.0, 32.0, 44.75]) == ["37.0", "32.0", "44.8"]
    assert fmt_whole_together([37.0, 32.0, 45.0]) == ["37", "32", "45"]
    assert fmt_whole_together([37.0, None, 45.0]) == ["37", "NE", "45"]


def test_median_with_range_one_style():
    from haplo_report.formatting import fmt_median_range

    assert fmt_median_range(13.0, 10.0, 16.0) == "13 (10\u201316)"
    assert fmt_median_range(13.0, None, None) == "13"
    assert fmt_median_range(None, None, None) == "NE"


def test_escape_markdown_keeps_text_literal() -> None:
    from haplo_report.formatting import escape_markdown  # noqa: PLC0415

    assert escape_markdown("<script>alert(1)</script>") == "\\<script\\>alert(1)\\</script\\>"
    assert escape_markdown("a|b *c* [l](u) $x$ &amp; `c`") == (
        "a\\|b \\*c\\* \\[l\\](u) \\$x\\$ \\&amp; \\`c\\`")
    assert escape_markdown("Ph-negative B-ALL 5/10 01_population") == (
        "Ph-negative B-ALL 5/10 01_population")


HOSTILE_TEXT = ("&lt;b&gt;", "<!-- c -->", "_i_", "&amp;", "--", "---", "...", "@SUM(A1)",
                "-@x", "$x$", "[click](file:///etc/passwd)", "<b>bold</b>", "*a* **b**",
                "x^2^ H~2~O", "`code`", "it's \"quoted\"", "1. not a list", "- not a list",
                "# not a heading", "::: div", "a\\b", "\\trowd \\row \\cell }{", "{#id .cls}",
                "Nausea;AESER=Y|x", "==mark==", "+ item", "<http://example.org>",
                "[@cite]", "x_y_z 01_population", "2 > 1 & 1 < 2", "\\(x\\)")


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_escaped_text_renders_as_typed_through_pandoc(text: str, tmp_path: Path) -> None:
    """Pandoc (the report's reader, with smart quotes and every default extension) shows the
    escaped text exactly as typed, in a paragraph and in a pipe-table cell (issue 28)."""
    import html  # noqa: PLC0415
    import re  # noqa: PLC0415

    from haplo_report.formatting import escape_markdown  # noqa: PLC0415
    from haplo_report.render.markdown import run_pandoc  # noqa: PLC0415

    source = f"{escape_markdown(text)}\n\n| a |\n|---|\n| {escape_markdown(text)} |\n"
    out = run_pandoc(["-f", "markdown+smart+mark", "-t", "html", "--wrap=none"], tmp_path,
                     stdin=source)
    shown = [html.unescape(t) for t in re.findall(r"<(?:p|td)>(.*?)</(?:p|td)>", out)]
    assert shown == [text, text], out
