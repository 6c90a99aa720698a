"""The coordinators' adherence dashboard (Streamlit entry point).

Served by ``irisin dashboard --study DIR``, i.e. ``streamlit run app.py --
--study DIR [--as-of YYYY-MM-DD]`` (see :mod:`dashboard.launch`). Pages,
picked in the sidebar (or by ``?page=`` in the URL): the compliance grid, the
cohort view, the participant table, one participant, the heart-rate and
time-zone notes, and data quality. Everything is read from
the study's DuckDB warehouse, read-only; results are cached per warehouse file
version, so a nightly refresh shows up on the next page load.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `streamlit run dashboard/app.py` runs this file as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl
import streamlit as st

from config import ConfigError, Study, open_study
from dashboard import auth, charts, data, grid
from models import alerts as alert_rules
from models import participant_table
from store import queries, sheets

PAGES: dict[str, str] = {
    "grid": "Compliance grid",
    "cohort": "Cohort",
    "participants": "Participant table",
    "participant": "Participant",
    "notes": "Heart rate & time zones",
    "quality": "Data quality",
}

TABLE_LABELS: dict[str, str] = {
    "participant_id": "Participant",
    "flags": "Flags",
    "last_data": "Last data (local time, zone)",
    "days_since_data": "Days since data",
    "this_week_minutes": "This week (min, so far)",
    "last_week_minutes": "Last complete week (min)",
    "last_week_status": "Last week status",
    "current_streak": "Streak (weeks)",
    "weeks_met": "Weeks met",
    "weeks_sufficient": "Sufficient weeks",
    "recent_wear_minutes_per_day": "Recent wear (min/day)",
    "timezone": "Time zone",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Arguments after ``--`` on the ``streamlit run`` line."""
    parser = argparse.ArgumentParser(prog="irisin dashboard")
    parser.add_argument("--study", type=Path, required=True, help="study folder")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        help="evaluate flags as if today were this date",
    )
    parser.add_argument(
        "--insecure-no-password",
        action="store_true",
        help="served beyond this machine without a password",
    )
    return parser.parse_args(argv)


# -- access --------------------------------------------------------------------------------------


def _secrets() -> Mapping[str, Any]:
    """Streamlit secrets as a mapping; empty when no secrets file exists."""
    try:
        return st.secrets.to_dict()
    except Exception:  # no secrets.toml: Streamlit raises its own not-found error
        return {}


def password_gate() -> bool:
    """True when the viewer may see participant data; otherwise shows the sign-in form."""
    expected = auth.configured_password(os.environ, _secrets())
    if expected is None or st.session_state.get("authenticated"):
        return True
    st.title("irisin adherence dashboard")
    with st.form("sign_in"):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        client = _client()
        if auth.password_matches(given, expected):
            auth.THROTTLE.succeeded(client)
            st.session_state["authenticated"] = True
            st.rerun()
        auth.wait(
            auth.THROTTLE.failed(client)
        )  # this session only waits; others are served meanwhile
        st.error("Wrong password.")
    return False


def _client() -> str:
    """The viewer's address as the server sees it (the key of the sign-in delay)."""
    try:
        address = st.context.ip_address
    except Exception:  # outside a served session
        address = None
    return address if isinstance(address, str) and address else "unknown client"


def _next_step(study: Study) -> str:
    """What fills an empty page: a real command (tests check every command the dashboard names exists)."""
    return f"put raw files in {study.paths.inbox}/<participant_id>/ and run `irisin nightly --study {study.root}`."


# -- downloads -----------------------------------------------------------------------------------

MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _session_token() -> str:
    """An unguessable token of this browser session, part of every download's name (and so of its URL)."""
    token: str = st.session_state.setdefault("download_token", secrets.token_hex(12))
    return token


# How long a download's file stays fetchable after the click made it (a bare string here would be drawn).
DOWNLOAD_LIFE_SECONDS = float(os.environ.get("IRISIN_DOWNLOAD_LIFE_SECONDS", "60"))


def _expire_later(data: bytes, mime: str, file_name: str) -> None:
    """Delete the file a click just made from Streamlit's media store after ``DOWNLOAD_LIFE_SECONDS``.

    Streamlit names a stored file by a hash of its bytes, type and name and
    has no public way to expire it, so this uses the same hash and the
    manager's own delete; if either changes, the file still goes when no
    session refers to it (Streamlit's own clean-up).
    """
    try:
        from streamlit import runtime
        from streamlit.runtime.memory_media_file_storage import _calculate_file_id

        manager = runtime.get_instance().media_file_mgr
        file_id = _calculate_file_id(data, mime, file_name)
    except Exception:
        return

    def forget() -> None:
        try:
            with manager._lock:
                manager._delete_file(file_id)
        except Exception:  # already cleaned up by Streamlit
            pass

    timer = threading.Timer(DOWNLOAD_LIFE_SECONDS, forget)
    timer.daemon = True
    timer.start()


def download_button(label: str, make: Callable[[], bytes], stem: str, kind: str, key: str) -> None:
    """A download whose file is made only when clicked, behind the password gate.

    Nothing is put in Streamlit's media store when the page is drawn; the
    file made on the click has a per-session random name, so its URL cannot
    be guessed or reused from another session, and it is deleted
    ``DOWNLOAD_LIFE_SECONDS`` later.
    """
    file_name, mime = f"{stem}-{_session_token()}.{kind}", MIME[kind]

    def generate() -> bytes:
        data = make()
        _expire_later(data, mime, file_name)
        return data

    st.download_button(
        label, data=generate, file_name=file_name, mime=mime, key=key, on_click="ignore"
    )


# -- cached loaders (keyed by the warehouse file's version) --------------------------------------


def _live_minute(as_of: date | None) -> datetime | None:
    """The current minute when "today" is live (a cache key), None when replaying a fixed date."""
    return None if as_of is not None else participant_table.as_of_instant(None)


def _warehouse_version(study: Study) -> int:
    path = queries.warehouse_path(study.root)
    return path.stat().st_mtime_ns if path.exists() else 0


@st.cache_data(show_spinner=False, max_entries=8)
def _participant_table(
    study_dir: str, version: int, as_of: date | None, minute: datetime | None
) -> participant_table.ParticipantTable:
    """Cached per warehouse version and replay date, or (live "today") the current minute."""
    return participant_table.load_participant_table(open_study(Path(study_dir)), as_of, now=minute)


@st.cache_data(show_spinner=False, max_entries=8)
def _cohort(study_dir: str, version: int) -> data.CohortView:
    return data.load_cohort_view(open_study(Path(study_dir)))


@st.cache_data(show_spinner=False, max_entries=64)
def _participant(
    study_dir: str, version: int, participant_id: str, last_local: datetime | None
) -> data.ParticipantDetail:
    return data.load_participant(open_study(Path(study_dir)), participant_id, last_local)


@st.cache_data(show_spinner=False, max_entries=8)
def _quality(study_dir: str, version: int) -> data.DataQuality:
    return data.load_data_quality(open_study(Path(study_dir)))


# -- pages -----------------------------------------------------------------------------------------


def _or_dash(value: object) -> str:
    return "—" if value is None else str(value)


def _percent(value: object) -> str:
    return "—" if value is None else f"{float(value):.0%}"  # type: ignore[arg-type]


def _share_metric(column: Any, label: str, row: Mapping[str, Any] | None) -> None:
    """Share meeting the threshold as the value, its interval as a neutral delta line."""
    if row is None or row["share_met"] is None:
        column.metric(label, "—", help="no participant has sufficient wear in this week yet")
        return
    column.metric(
        label,
        f"{_percent(row['share_met'])} of {row['n_sufficient']}",
        delta=f"interval {_percent(row['ci_low'])}–{_percent(row['ci_high'])}",
        delta_color="off",
        delta_arrow="off",
        help=f"{row['n_met']} of {row['n_sufficient']} participants with sufficient wear",
    )


GRID_PAGE_ROWS = 100


def grid_page(study: Study, version: int, as_of: date | None) -> None:
    """The landing view: who needs attention, day by day over the last weeks."""
    result = _participant_table(str(study.root), version, as_of, _live_minute(as_of))
    st.header("Compliance grid")
    controls = st.columns([1, 3, 2, 2])
    weeks = int(
        controls[0].number_input(
            "Weeks shown", min_value=1, max_value=52, value=4, step=1, key="grid_weeks"
        )
    )
    kinds = controls[1].multiselect(
        "Show only participants flagged", participant_table.FLAG_KINDS, key="grid_flags"
    )
    id_contains = controls[2].text_input("Participant id contains", key="grid_id")
    today = participant_table.grid_today(study, result.as_of)
    view = _grid(str(study.root), version, as_of, _live_minute(as_of), weeks)
    shown = participant_table.filter_table(view.table, id_contains, kinds)
    pages = max(1, -(-shown.height // GRID_PAGE_ROWS))
    number = int(
        controls[3].number_input(
            f"Page (of {pages})", min_value=1, max_value=pages, value=1, key="grid_page"
        )
    )
    st.caption(
        f"{grid.LEGEND}. Days up to {today:%a %Y-%m-%d} ({study.config.study.timezone}); each participant's days "
        "are their local days. Rows: who needs attention first (no data yet, then most flags, then longest "
        "without data). Flags: " + "; ".join(alert_rules.describe_rules(study.config.alerts)) + "."
    )
    if not view.table.height:
        st.info(
            f"The roster is empty: list participants in {study.paths.roster_csv} (participant_id,timezone), then run `irisin check --study {study.root}`."
        )
        return
    _grid_rows(view, shown, number)
    alert_list = _alerts_of(result.alerts, shown)
    _grid_downloads(f"{today:%Y-%m-%d}", shown, alert_list)


def _grid_rows(view: grid.Grid, shown: pl.DataFrame, number: int) -> None:
    """Page ``number`` of the grid's rows ``shown``: participant, flags, last data, one column a week."""
    columns: dict[str, Any] = {
        "participant_id": st.column_config.TextColumn("Participant", pinned=True, width=90),
        "flags": st.column_config.TextColumn(
            "Flags", width="medium", help="hover a cell for the whole text"
        ),
        "last_data": st.column_config.TextColumn("Last data (local)", width=120),
        "days_since_data": st.column_config.NumberColumn("Days since", width=80),
    }
    columns |= {
        name: st.column_config.TextColumn(f"{name.removeprefix('week of ')} (Mon–Sun)", width=150)
        for name in view.week_columns
    }
    rows = grid.compact(grid.page(shown, number, GRID_PAGE_ROWS), view)
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config=columns,
        height=min(38 + 35 * rows.height, 740),
    )
    st.caption(
        f"Participants {(number - 1) * GRID_PAGE_ROWS + min(1, rows.height)}–{(number - 1) * GRID_PAGE_ROWS + rows.height} "
        f"of {shown.height} shown ({view.table.height} on the roster)."
    )


def _alerts_of(alerts: pl.DataFrame, shown: pl.DataFrame) -> pl.DataFrame:
    """The alert list of the participants ``shown``, drawn under the grid; returned for the downloads."""
    alert_list = alert_rules.alert_list(alerts).filter(
        pl.col("participant_id").is_in(shown["participant_id"].implode())
    )
    st.subheader(f"Alerts ({alert_list.height})")
    if alert_list.height:
        st.dataframe(
            alert_list,
            hide_index=True,
            width="stretch",
            column_config={
                "participant_id": "Participant",
                "rule": "Rule",
                "flag": st.column_config.TextColumn("Flag", width="large"),
            },
        )
    else:
        st.success("No participant is flagged by any rule.")
    return alert_list


def _grid_downloads(stem: str, shown: pl.DataFrame, alert_list: pl.DataFrame) -> None:
    """The grid and its alerts as CSV and Excel, side by side (every CSV through the formula-safe writer)."""
    downloads: list[tuple[str, Callable[[], bytes], str, str, str]] = [
        ("Grid as CSV", lambda: sheets.safe_csv_bytes(shown), "compliance-grid", "csv", "grid_csv"),
        (
            "Grid as Excel",
            lambda: sheets.xlsx_bytes({"grid": shown, "alerts": alert_list}),
            "compliance-grid",
            "xlsx",
            "grid_xlsx",
        ),
        ("Alerts as CSV", lambda: sheets.safe_csv_bytes(alert_list), "alerts", "csv", "alerts_csv"),
        (
            "Alerts as Excel",
            lambda: sheets.xlsx_bytes({"alerts": alert_list}),
            "alerts",
            "xlsx",
            "alerts_xlsx",
        ),
    ]
    for column, (label, content, name, extension, key) in zip(
        st.columns(len(downloads)), downloads, strict=True
    ):
        with column:
            download_button(label, content, f"{name}-{stem}", extension, key)


@st.cache_data(show_spinner=False, max_entries=16)
def _grid(
    study_dir: str, version: int, as_of: date | None, minute: datetime | None, weeks: int
) -> grid.Grid:
    study = open_study(Path(study_dir))
    table = _participant_table(study_dir, version, as_of, minute)
    return data.load_grid(
        study, table.alerts, participant_table.grid_today(study, table.as_of), weeks
    )


DEFAULT_WINDOW_WEEKS = 12
WINDOWS = ("last 12 weeks", "whole study")


def _window(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Rows of ``frame`` (by ``week_start``) in the chosen window: the last 12 weeks of data, or all."""
    choice = st.radio(
        "Weeks shown", WINDOWS, horizontal=True, key=key, label_visibility="collapsed"
    )
    if choice == WINDOWS[1] or frame.is_empty():
        return frame
    last = frame["week_start"].max()
    return frame.filter(pl.col("week_start") > last - timedelta(weeks=DEFAULT_WINDOW_WEEKS))  # type: ignore[operator]


def cohort_page(study: Study, version: int) -> None:
    view = _cohort(str(study.root), version)
    threshold = study.config.scoring.threshold_minutes_per_week
    st.header("Cohort")
    if view.this_week is None:
        st.info(
            f"No weekly results yet: put raw files in {study.paths.inbox}/<participant_id>/ and run `irisin nightly --study {study.root}`."
        )
    else:
        st.caption(
            f"This week = the week starting {view.this_week:%a %Y-%m-%d}, which holds the latest data in the "
            f"study ({view.reference_day:%Y-%m-%d}). Shares count participants with sufficient wear; the "
            "interval is the model's 95 % interval."
        )
    cols = st.columns(4)
    cols[0].metric("Participants enrolled", view.enrolled)
    cols[1].metric(
        "Active this week", view.active_this_week, help="participants with any wear this week"
    )
    _share_metric(cols[2], f"Meeting {threshold} min this week (so far)", view.this_week_share)
    _share_metric(cols[3], "Last complete week", view.last_week_share)
    left, right = st.columns(2)
    with left:
        st.subheader("Share meeting the hour, by week")
        if view.trend.is_empty():
            st.info(f"No cohort results yet: {_next_step(study)}")
        else:
            trend = _window(view.trend, "cohort_window")
            st.altair_chart(charts.share_trend(trend), width="stretch")
            st.caption("Line: share meeting the threshold; band and whiskers: its interval.")
    with right:
        st.subheader("This week's minutes per participant")
        if view.this_week_minutes.is_empty():
            st.info(f"No minutes this week yet: {_next_step(study)}")
        else:
            st.altair_chart(
                charts.minutes_distribution(view.this_week_minutes, threshold), width="stretch"
            )
            st.caption(f"Dashed line: the {threshold}-minute weekly threshold.")


def table_page(study: Study, version: int, as_of: date | None) -> None:
    result = _participant_table(str(study.root), version, as_of, _live_minute(as_of))
    alerts = study.config.alerts
    st.header("Participants")
    today = "replayed as of " if result.replay else "today = now: "
    st.caption(
        "Flags, each counted from the participant's own last data (no data: to today): "
        + "; ".join(alert_rules.describe_rules(alerts))
        + ". "
        + (
            f"This week = the week of {result.reference_day:%Y-%m-%d}, the latest data in the study; "
            if result.reference_day
            else ""
        )
        + f"{today}{result.as_of:%Y-%m-%d %H:%M} UTC."
    )
    stale_days = (
        (participant_table.as_of_instant(None).date() - result.reference_day).days
        if result.reference_day
        else 0
    )
    if not result.replay and stale_days > alerts.no_data_days:
        st.warning(
            f"The latest data in this study is from {result.reference_day:%Y-%m-%d}, {stale_days} days ago, so "
            "everyone is flagged 'no data'. If the study is still running, check the last nightly run on the "
            "Data quality page; to review a finished study, replay it: "
            f"`irisin dashboard --study {study.root} --as-of {result.reference_day:%Y-%m-%d}`."
        )
    left, right, _ = st.columns([2, 3, 3])
    id_contains = left.text_input("Participant id contains", key="id_filter")
    kinds = right.multiselect(
        "Show only participants flagged", participant_table.FLAG_KINDS, key="flag_filter"
    )
    shown = participant_table.filter_table(result.table, id_contains, kinds)
    columns = {name: st.column_config.Column(label) for name, label in TABLE_LABELS.items()}
    columns["flags"] = st.column_config.TextColumn(
        TABLE_LABELS["flags"], width="large", help="hover a cell for the whole text"
    )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config=columns,
        height=min(
            38 + 35 * max(shown.height, 1), 38 + 35 * 25
        ),  # every row visible up to 25, then scroll
    )
    st.caption(
        f"{shown.height} of {result.table.height} participants. Click a column header to sort."
    )
    day = result.reference_day or result.as_of.date()
    download_button(
        "Download table as CSV",
        lambda: participant_table.to_csv(shown),
        f"participants-{day:%Y-%m-%d}",
        "csv",
        "download_csv",
    )


def participant_page(study: Study, version: int, as_of: date | None) -> None:
    """One participant (chosen, or named in the URL): figures, weekly minutes, wear, sources and problem files."""
    table = _participant_table(str(study.root), version, as_of, _live_minute(as_of)).table
    ids = sorted(table["participant_id"].to_list())
    st.header("Participant")
    if not ids:
        st.info(
            f"The roster is empty: list participants in {study.paths.roster_csv} (participant_id,timezone), then run `irisin check --study {study.root}`."
        )
        return
    wanted = st.query_params.get("participant")
    pid = st.selectbox(
        "Participant", ids, index=ids.index(wanted) if wanted in ids else 0, key="participant"
    )
    st.query_params["participant"] = pid
    row = table.filter(table["participant_id"] == pid).row(0, named=True)
    last_local = _last_local(study, version, pid)
    detail = _participant(str(study.root), version, pid, last_local)
    _participant_summary(row, detail.timezone)
    _participant_charts(study, pid, detail)
    _participant_files(detail)


def _participant_summary(row: dict[str, Any], timezone: str) -> None:
    """The participant's last data, zone and flags, and the four week figures of the table's row."""
    st.markdown(
        f"**Last data:** {row['last_data'] or 'none yet'} &nbsp;·&nbsp; **Time zone:** {timezone}"
        f" &nbsp;·&nbsp; **Flags:** {row['flags'] or 'none'}"
    )
    cols = st.columns(4)
    cols[0].metric("This week (min, so far)", _or_dash(row["this_week_minutes"]))
    cols[1].metric("Last complete week (min)", _or_dash(row["last_week_minutes"]))
    cols[2].metric("Streak (weeks met)", _or_dash(row["current_streak"]))
    cols[3].metric(
        "Weeks met / sufficient",
        "—" if row["weeks_met"] is None else f"{row['weeks_met']} / {row['weeks_sufficient']}",
    )


def _participant_charts(study: Study, pid: str, detail: data.ParticipantDetail) -> None:
    """Minutes per week against the threshold, and wear by local day and hour (or what to do when there is none)."""
    threshold = study.config.scoring.threshold_minutes_per_week
    st.subheader("Minutes per week")
    weeks = _window(detail.weeks, "participant_window") if detail.weeks.height else detail.weeks
    if detail.weeks.is_empty():
        st.info(
            f"No weekly results for {pid} yet: put their files in {study.paths.inbox}/{pid}/ and run `irisin nightly --study {study.root}`."
        )
    else:
        st.altair_chart(charts.weekly_bars(weeks, threshold), width="stretch")
        st.caption(
            f"Bars: moderate (light) and vigorous (dark) minutes; marks above the bars: week status; "
            f"dashed line: the {threshold}-minute threshold."
        )
    st.subheader("Wear by day and hour")
    if detail.hourly.is_empty():
        st.info(
            f"No minute data for {pid} yet (daily totals only, or nothing): `irisin nightly --study {study.root}` reads new files."
        )
    else:
        st.caption(
            f"Local days {detail.heatmap_from} to {detail.heatmap_until} ({detail.timezone})."
        )
        st.altair_chart(charts.wear_heatmap(detail.hourly, detail.timezone), width="stretch")


def _participant_files(detail: data.ParticipantDetail) -> None:
    """The sources and devices seen, and the files quarantined or read only in part, with their reasons."""
    st.subheader("Sources and devices seen")
    st.dataframe(
        detail.sources,
        hide_index=True,
        width="stretch",
        column_config={
            "source": "Source",
            "device": "Device",
            "first_local": st.column_config.DatetimeColumn(
                f"First ({detail.timezone})", format="YYYY-MM-DD HH:mm"
            ),
            "last_local": st.column_config.DatetimeColumn(
                f"Last ({detail.timezone})", format="YYYY-MM-DD HH:mm"
            ),
            "minutes": "Minute rows",
            "daily_totals": "Daily totals",
        },
    )
    st.subheader("Quarantined or partial files")
    if detail.problem_files.is_empty():
        st.success("No quarantined or partial files.")
    else:
        st.dataframe(
            detail.problem_files,
            hide_index=True,
            width="stretch",
            column_config={
                "ingested_local": st.column_config.DatetimeColumn(
                    f"Ingested ({detail.timezone})", format="YYYY-MM-DD HH:mm"
                ),
                "status": "Status",
                "reason": "Reason",
                "path": "File",
                "kind": "Kind",
                "size_bytes": st.column_config.NumberColumn("Size (bytes)", format="%d"),
            },
        )


def _last_local(study: Study, version: int, participant_id: str) -> datetime | None:
    """The participant's last data in local time (for the heat map window)."""
    return _last_data(str(study.root), version).get(participant_id)


@st.cache_data(show_spinner=False, max_entries=8)
def _last_data(study_dir: str, version: int) -> dict[str, datetime]:
    study = open_study(Path(study_dir))
    with queries.open_warehouse(queries.warehouse_path(study.root)) as con:
        last = queries.last_data(con, queries.roster(con, study.roster))
    return dict(last.select("participant_id", "last_local").iter_rows())


@st.cache_data(show_spinner=False, max_entries=8)
def _notes(study_dir: str, version: int) -> data.NotesView:
    return data.load_notes(open_study(Path(study_dir)))


HR_PARAMS_HELP = (
    "Where each participant's heart-rate-reserve parameters (resting and maximum heart rate) came "
    "from, in the latest week heart rate classified minutes: **roster** (roster.csv), **device** "
    "(the device's profile, its daily resting heart rate, or the birth year in the export's "
    "account profile), **estimated** (resting heart rate estimated from their own minutes). "
    "**not used**: heart rate classified none of their minutes (the device's own label or cadence "
    "did, or no heart rate was recorded; a note below says when heart rate could be used with "
    "more in the roster)."
)


def notes_page(study: Study, version: int) -> None:
    view = _notes(str(study.root), version)
    st.header("Heart rate & time zones")
    st.markdown(HR_PARAMS_HELP)
    st.caption(
        "Time zone: a participant whose quietest hours sit 3 hours or more from the night in the "
        "roster's zone, in at least two weeks, is named below. Nothing is changed automatically: "
        f"correct {study.paths.roster_csv} and the next nightly rescores."
    )
    st.subheader("Notes")
    if view.participants.is_empty():
        st.info(f"No participants yet: {_next_step(study)}")
        return
    if view.notes.is_empty():
        st.success(
            "No heart-rate or time-zone notes: every participant with heart rate has the "
            "parameters it needs, and no roster zone disagrees with the data."
        )
    for topic, note in view.notes.select("topic", "note").iter_rows():
        label = "Heart rate" if topic == "heart_rate" else "Time zone"
        st.warning(f"**{label}.** {note}")
    st.subheader("Per participant")
    st.dataframe(
        view.participants,
        hide_index=True,
        width="stretch",
        column_config={
            "participant_id": "Participant",
            "timezone": "Roster time zone",
            "hr_params": st.column_config.TextColumn("HR parameters", help=HR_PARAMS_HELP),
            "weeks": st.column_config.NumberColumn("Weeks", format="%d"),
            "weeks_by_heart_rate": st.column_config.NumberColumn(
                "Weeks with heart-rate minutes", format="%d"
            ),
            "notes": "Notes",
        },
    )


def quality_page(study: Study, version: int) -> None:
    quality = _quality(str(study.root), version)
    st.header("Data quality")
    st.subheader("Files by status")
    if quality.files.is_empty():
        st.info(f"No files ingested yet: {_next_step(study)}")
    else:
        st.altair_chart(charts.files_by_status(quality.files), width="stretch")
        st.dataframe(
            quality.files,
            hide_index=True,
            width="stretch",
            column_config={
                "status": "Status",
                "reason": "Reason",
                "files": "Files",
                "size_bytes": st.column_config.NumberColumn("Size (bytes)", format="%d"),
                "participants": "Participants",
            },
        )
    st.subheader("Last run")
    run = quality.last_run
    if run is None:
        st.info(f"No run recorded yet: {_next_step(study)}")
        return
    zone = quality.timezone
    started, finished = run.get("started_at"), run.get("finished_at")
    st.markdown(
        f"**{run.get('flow', 'run')}** `{run.get('run_id', '')}` — status **{run.get('status', '?')}**, "
        f"started {started:%Y-%m-%d %H:%M} {zone}"
        + (f", finished {finished:%Y-%m-%d %H:%M} {zone}" if finished else ", not finished")
    )
    counts = st.columns(5)
    for col, key in zip(
        counts,
        ("files_seen", "files_new", "files_ok", "files_partial", "files_quarantined"),
        strict=True,
    ):
        col.metric(key.replace("_", " "), _or_dash(run.get(key)))
    with st.container(border=True):
        st.markdown(str(run.get("summary_markdown") or "_no summary_"))


# -- entry ---------------------------------------------------------------------------------------------


def main(study_dir: Path, as_of: date | None = None, insecure_no_password: bool = False) -> None:
    """Render the dashboard of ``study_dir``; ``as_of`` replays flags as if today were that date."""
    st.set_page_config(page_title="irisin adherence", layout="wide")
    if not password_gate():
        return
    if insecure_no_password and auth.configured_password(os.environ, _secrets()) is None:
        st.warning(
            "This dashboard is served beyond this machine without a password (--insecure-no-password): "
            f"anyone who can reach it sees participant data. Set {auth.PASSWORD_ENV} and restart."
        )
    try:
        study = open_study(Path(study_dir))
    except ConfigError as err:
        st.error(str(err))
        return
    if not queries.warehouse_path(study.root).exists():
        st.error(
            f"No warehouse at {queries.warehouse_path(study.root)} yet: run `irisin nightly --study {study.root}` "
            "(or `irisin demo` for a study to try)."
        )
        return
    version = _warehouse_version(study)
    keys = list(PAGES)
    wanted = st.query_params.get("page")
    st.sidebar.title(study.config.study.name)
    page = st.sidebar.radio(
        "Page",
        keys,
        index=keys.index(wanted) if wanted in keys else 0,
        format_func=PAGES.get,
        key="page",
    )
    st.query_params["page"] = page
    if page == "grid":
        grid_page(study, version, as_of)
    elif page == "cohort":
        cohort_page(study, version)
    elif page == "participants":
        table_page(study, version, as_of)
    elif page == "participant":
        participant_page(study, version, as_of)
    elif page == "notes":
        notes_page(study, version)
    else:
        quality_page(study, version)


if __name__ == "__main__":
    _args = parse_args(sys.argv[1:])
    main(_args.study, _args.as_of, _args.insecure_no_password)
