"""An independent DuckDB SQL implementation of weekly steps 2 to 5, used as a test oracle.

It shares nothing with the polars core but step 1 (the per-minute level,
which it takes as input). It applies the plausibility limits and the wear
rule itself (``auto``'s per-source UTC day and Choi's step rule as window
functions over each source's minutes, ``WEAR_SQL``) and "a moderate or
vigorous minute is worn": it groups by (participant, UTC minute)
instead of quarter-hour bit sets, converts time zones with DuckDB's ICU
``timezone()``, and uses ISO (Monday) weeks from ``date_trunc('week', ...)``.
"""

from __future__ import annotations

import duckdb
import polars as pl

from config.study import StudyConfig
from features.classify import METHODS

WEAR_SQL = """
WITH ranked AS (  -- plausibility: impossible heart rates and step counts are ignored
    SELECT c.participant_id, c.minute_utc, c.level, c.method_code, c.worn, p.rank AS source_rank,
           CASE WHEN c.heart_rate_bpm > 220 OR (c.heart_rate_bpm > 0 AND c.heart_rate_bpm < 20)
                THEN NULL ELSE c.heart_rate_bpm END AS hr,
           CASE WHEN c.steps > 300 OR c.steps < 0 THEN NULL ELSE c.steps END AS steps,
           CAST(epoch(c.minute_utc) AS BIGINT) // 60 AS minute
    FROM classified c JOIN precedence p ON c.source = p.source
),
heart_days AS (  -- auto: did the source record any heart rate that UTC day?
    SELECT participant_id, source_rank, CAST(minute_utc AS DATE) AS utc_day,
           bool_or(coalesce(hr, 0) > 0) AS heart_day
    FROM ranked GROUP BY ALL
),
marked AS (
    SELECT r.*, CASE WHEN $rule = 'auto' THEN h.heart_day ELSE false END AS heart_day
    FROM ranked r JOIN heart_days h
      ON h.participant_id = r.participant_id AND h.source_rank = r.source_rank
     AND h.utc_day = CAST(r.minute_utc AS DATE)
),
step_minutes AS (  -- the step rule's minutes: distinct, each with its largest count
    SELECT participant_id, source_rank, minute, max(steps) = 0 AS zero
    FROM marked WHERE NOT heart_day AND steps IS NOT NULL GROUP BY ALL
),
changes AS (
    SELECT *, CASE WHEN zero IS DISTINCT FROM lag(zero) OVER w THEN 1 ELSE 0 END AS change
    FROM step_minutes WINDOW w AS (PARTITION BY participant_id, source_rank ORDER BY minute)
),
numbered AS (
    SELECT *, sum(change) OVER (PARTITION BY participant_id, source_rank ORDER BY minute) AS run
    FROM changes
),
runs AS (  -- Choi 2011 on steps: runs of zero and non-zero minutes, spans in clock minutes
    SELECT participant_id, source_rank, run, any_value(zero) AS zero,
           min(minute) AS first, max(minute) AS last, max(minute) - min(minute) + 1 AS span
    FROM numbered GROUP BY ALL
),
quiet_runs AS (
    SELECT *, zero OR (
               span <= $allowance
               AND coalesce(lag(zero) OVER w AND lag(span) OVER w >= $window, false)
               AND coalesce(lead(zero) OVER w AND lead(span) OVER w >= $window, false)
           ) AS quiet
    FROM runs WINDOW w AS (PARTITION BY participant_id, source_rank ORDER BY run)
),
after_quiet AS (
    SELECT *, coalesce(lag(quiet) OVER (PARTITION BY participant_id, source_rank ORDER BY run), false)
              AS previous_quiet
    FROM quiet_runs
),
segmented AS (
    SELECT *, sum(CASE WHEN quiet AND previous_quiet THEN 0 ELSE 1 END)
              OVER (PARTITION BY participant_id, source_rank ORDER BY run) AS segment
    FROM after_quiet
),
verdicts AS (
    SELECT participant_id, source_rank, run,
           NOT (quiet AND max(last) OVER s - min(first) OVER s + 1 >= $nonwear) AS step_worn
    FROM segmented WINDOW s AS (PARTITION BY participant_id, source_rank, segment)
),
step_worn AS (
    SELECT n.participant_id, n.source_rank, n.minute, v.step_worn
    FROM numbered n JOIN verdicts v USING (participant_id, source_rank, run)
)
SELECT m.participant_id, m.minute_utc, m.level, m.method_code, m.source_rank,
       CASE $rule
            WHEN 'heart_rate_present' THEN coalesce(m.hr, 0) > 0
            WHEN 'heart_rate_or_steps' THEN coalesce(m.hr, 0) > 0 OR coalesce(m.steps, 0) > 0
            WHEN 'device' THEN coalesce(m.worn, coalesce(m.hr, 0) > 0)
            ELSE CASE WHEN m.heart_day THEN coalesce(m.hr, 0) > 0
                      ELSE coalesce(s.step_worn, false) END
       END AS worn_by_rule
FROM marked m LEFT JOIN step_worn s
  ON s.participant_id = m.participant_id AND s.source_rank = m.source_rank
 AND s.minute = m.minute AND NOT m.heart_day
"""

SQL = """
WITH trusted AS (SELECT * FROM worn_rows),
per_minute AS (  -- step 2: each UTC minute once, highest level of any trusted source
    SELECT participant_id, minute_utc,
           max(level) AS level,
           bool_or(worn_by_rule OR coalesce(level, 0) >= 2) AS worn,  -- MVPA is worn
           bool_or(level IS NOT NULL) AS classified
    FROM trusted GROUP BY participant_id, minute_utc
),
zoned AS (
    SELECT d.participant_id, coalesce(NULLIF(z.timezone, ''), $default_zone) AS zone
    FROM (SELECT DISTINCT participant_id FROM trusted
          UNION SELECT DISTINCT participant_id FROM daily_totals) d
    LEFT JOIN zones z USING (participant_id)
),
minute_days AS (  -- step 4: local dates in the participant's zone
    SELECT m.participant_id,
           CAST(timezone(zd.zone, m.minute_utc) AS DATE) AS local_date,
           m.level, m.worn, m.classified
    FROM per_minute m JOIN zoned zd USING (participant_id)
),
days AS (
    SELECT participant_id, local_date,
           count(*) FILTER (WHERE level = 2) AS moderate,
           count(*) FILTER (WHERE level = 3) AS vigorous,
           count(*) FILTER (WHERE worn) AS wear,
           count(*) FILTER (WHERE classified) AS classified
    FROM minute_days GROUP BY participant_id, local_date
),
totals_per_source AS (
    SELECT t.participant_id, t.local_date, p.rank,
           max(coalesce(t.moderate_minutes, 0)) AS moderate,
           max(coalesce(t.vigorous_minutes, 0)) AS vigorous,
           -- a source may split a day over rows (one per series): each column's
           -- largest value, then their sum, unless a row says the device was off
           CASE WHEN bool_and(coalesce(t.worn, true))
                THEN max(coalesce(t.sedentary_minutes, 0)) + max(coalesce(t.light_minutes, 0))
                   + max(coalesce(t.moderate_minutes, 0)) + max(coalesce(t.vigorous_minutes, 0))
                ELSE 0 END AS wear
    FROM daily_totals t JOIN precedence p ON t.source = p.source
    GROUP BY ALL
),
totals AS (
    SELECT * FROM totals_per_source
    QUALIFY row_number() OVER (PARTITION BY participant_id, local_date ORDER BY rank) = 1
),
filled AS (  -- step 2 (fill): device totals only for days without a classified minute
    SELECT coalesce(d.participant_id, t.participant_id) AS participant_id,
           coalesce(d.local_date, t.local_date) AS local_date,
           (coalesce(d.classified, 0) = 0 AND t.participant_id IS NOT NULL) AS from_totals,
           d.moderate AS m_moderate, d.vigorous AS m_vigorous, d.wear AS m_wear,
           t.moderate AS t_moderate, t.vigorous AS t_vigorous, t.wear AS t_wear, t.rank AS t_rank
    FROM days d FULL OUTER JOIN totals t USING (participant_id, local_date)
),
final_days AS (  -- step 3: wear and valid days
    SELECT participant_id, local_date,
           CAST(date_trunc('week', local_date) AS DATE) AS week_start,
           CASE WHEN from_totals THEN t_moderate ELSE coalesce(m_moderate, 0) END AS moderate,
           CASE WHEN from_totals THEN t_vigorous ELSE coalesce(m_vigorous, 0) END AS vigorous,
           CASE WHEN from_totals THEN greatest(coalesce(m_wear, 0), t_wear, t_moderate + t_vigorous) ELSE coalesce(m_wear, 0) END AS wear,
           from_totals
    FROM filled
),
week_sources AS (
    SELECT participant_id, week_start, string_agg(source, ',' ORDER BY rank) AS sources
    FROM (
        SELECT DISTINCT t.participant_id, CAST(date_trunc('week', md.local_date) AS DATE) AS week_start,
               p.source, p.rank
        FROM trusted t
        JOIN zoned zd USING (participant_id)
        JOIN precedence p ON p.rank = t.source_rank
        CROSS JOIN LATERAL (SELECT CAST(timezone(zd.zone, t.minute_utc) AS DATE) AS local_date) md
        UNION
        SELECT f.participant_id, CAST(date_trunc('week', f.local_date) AS DATE), p.source, p.rank
        FROM filled f JOIN precedence p ON p.rank = f.t_rank
        WHERE f.from_totals
    ) GROUP BY ALL
),
method_minutes AS (  -- minutes each method classified in some trusted source, per local week
    SELECT participant_id, week_start,
           count(DISTINCT minute_utc) FILTER (WHERE method_code IS NOT NULL) AS classified,
           count(DISTINCT minute_utc) FILTER (WHERE method_code = 0) AS by_device,
           count(DISTINCT minute_utc) FILTER (WHERE method_code = 1) AS by_heart_rate,
           count(DISTINCT minute_utc) FILTER (WHERE method_code = 2) AS by_cadence,
           count(DISTINCT minute_utc) FILTER (WHERE method_code = 3) AS by_mets
    FROM (
        SELECT t.participant_id, t.minute_utc, t.method_code,
               CAST(date_trunc('week', CAST(timezone(zd.zone, t.minute_utc) AS DATE)) AS DATE) AS week_start
        FROM trusted t JOIN zoned zd USING (participant_id)
    ) GROUP BY ALL
),
week_methods AS (
    SELECT participant_id, week_start, string_agg(name, ',' ORDER BY position) AS methods
    FROM (
        SELECT DISTINCT t.participant_id,
               CAST(date_trunc('week', CAST(timezone(zd.zone, t.minute_utc) AS DATE)) AS DATE) AS week_start,
               mo.name, mo.position
        FROM trusted t
        JOIN zoned zd USING (participant_id)
        JOIN method_order mo ON mo.code = t.method_code
    ) GROUP BY ALL
)
SELECT w.participant_id, w.week_start,
       CAST(sum(moderate) AS INTEGER) AS moderate_minutes,
       CAST(sum(vigorous) AS INTEGER) AS vigorous_minutes,
       CAST(sum(moderate) + sum(vigorous) AS INTEGER) AS mvpa_minutes,
       CAST(sum(wear) AS INTEGER) AS wear_minutes,
       CAST(count(*) FILTER (WHERE wear >= $min_wear) AS TINYINT) AS valid_days,
       CASE WHEN count(*) FILTER (WHERE wear >= $min_wear) < $min_days THEN 'insufficient'
            WHEN sum(moderate) + sum(vigorous) >= $threshold THEN 'met'
            ELSE 'below' END AS status,
       any_value(s.sources) AS sources,
       any_value(mt.methods) AS methods,
       CAST(count(*) FILTER (WHERE from_totals) AS TINYINT) AS from_daily_totals,
       CAST(sum(moderate) + 2 * sum(vigorous) AS INTEGER) AS moderate_equivalent_minutes,
       CASE WHEN any_value(mt.methods) LIKE '%heart_rate%' THEN coalesce(any_value(h.hr_params), 'none')
            ELSE 'none' END AS hr_params,
       CAST(any_value(mm.by_device) / nullif(any_value(mm.classified), 0) AS REAL) AS share_device,
       CAST(any_value(mm.by_heart_rate) / nullif(any_value(mm.classified), 0) AS REAL) AS share_heart_rate,
       CAST(any_value(mm.by_cadence) / nullif(any_value(mm.classified), 0) AS REAL) AS share_cadence,
       CAST(any_value(mm.by_mets) / nullif(any_value(mm.classified), 0) AS REAL) AS share_mets
FROM final_days w
LEFT JOIN week_sources s USING (participant_id, week_start)
LEFT JOIN week_methods mt USING (participant_id, week_start)
LEFT JOIN method_minutes mm USING (participant_id, week_start)
LEFT JOIN hr_params h USING (participant_id)
GROUP BY w.participant_id, w.week_start
ORDER BY w.participant_id, w.week_start
"""


def oracle_weekly(
    classified: pl.DataFrame,
    daily_totals: pl.DataFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    hr_params: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Weekly table (without config_hash) from classified minute rows, by SQL.

    ``classified`` needs ``participant_id, source, minute_utc, level, method_code,
    heart_rate_bpm, steps, worn`` (``classify_minutes`` output); the wear rule, every one
    of ``[wear] rule`` with the Choi 2011 step rule, is computed here (``WEAR_SQL``);
    ``hr_params`` (``participant_id, hr_params``) is the parameters' provenance, taken as given
    like the levels.
    Only Monday weeks and roster zones (no device offsets) are implemented.
    """
    assert config.study.week_start == "monday" and not config.study.use_device_offsets
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    precedence = pl.DataFrame(
        {
            "source": config.intensity.source_precedence,
            "rank": list(range(len(config.intensity.source_precedence))),
        }
    )
    method_order = pl.DataFrame(
        {
            "name": config.intensity.methods,
            "code": [METHODS.index(m) for m in config.intensity.methods],
            "position": list(range(len(config.intensity.methods))),
        }
    )
    con.register(
        "classified",
        classified.select(
            "participant_id",
            "source",
            "minute_utc",
            "level",
            "method_code",
            "heart_rate_bpm",
            "steps",
            "worn",
        ),
    )
    con.register("daily_totals", daily_totals)
    if hr_params is None:
        hr_params = pl.DataFrame(schema={"participant_id": pl.String, "hr_params": pl.String})
    con.register("hr_params", hr_params.select("participant_id", "hr_params"))
    con.register("zones", roster.select("participant_id", "timezone"))
    con.register("precedence", precedence)
    con.register("method_order", method_order)
    params = {
        "default_zone": config.study.timezone,
        "min_wear": config.wear.min_wear_minutes_per_day,
        "min_days": config.wear.min_valid_days_per_week,
        "threshold": config.scoring.threshold_minutes_per_week,
    }
    wear = config.wear
    wear_params = {
        "rule": wear.rule,
        "allowance": wear.step_interruption_minutes,
        "window": wear.step_interruption_window_minutes,
        "nonwear": wear.step_nonwear_minutes,
    }
    con.register("worn_rows", con.execute(WEAR_SQL, wear_params).pl())
    # METHODS codes are fixed: the share columns above assume this order.
    assert METHODS == ("device", "heart_rate", "cadence", "mets")
    return con.execute(SQL, params).pl()
