"""ReturnScope's cleaning rules and 33 customer features as a Spark job.

Written by `returnscope spark-job --out DIR`. Reads order lines (a table name, a CSV or a Parquet
path), applies the cleaning table of FEATURES.md, builds one row per customer with the 33 features,
and writes under --output:

  silver/          the silver table (Parquet), what `returnscope run --silver` segments
  quality_counts/  every cleaning count by its FEATURES.md name (Parquet: name, count)
  run_info/        one row: as_of, row and customer counts, first and last order, the settings
                   (Parquet)

    spark-submit returnscope_features.py --input orders.csv --output out/
        [--as-of TS] [--recency-window-days 90] [--adjacency-window-days 14]
        [--min-orders-per-customer 2] [--drop-duplicate-rows true] [--config returnscope.toml]

The settings are ReturnScope's configuration keys (`returnscope config`): a --config TOML file is
read for the keys this job uses, and a flag overrides the file. The SQL files beside this script
(sql/*.sql) are the queries; run in client mode so the driver can read them (or ship the folder
with --files and keep the layout).
"""

import argparse
import datetime
import os
import re
import sys

SQL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sql")
SILVER_FORMAT = 1
REQUIRED_COLUMNS = [
    "SALES_ORDER_NO", "CUSTOMER_EMAILID", "ORDER_DATE", "SKU", "SALES_QTY", "RETURN_QTY",
    "UNITS_RETURNED_FLAG", "RETURN_DATE", "RETURN_NO", "RETURN_COMMENT", "Q_CLS_ID", "Q_SKU_ID",
    "CLASS_", "BRAND_",
]
QUALITY_COUNTS = [
    "rejected_bad_order_date", "rejected_bad_sales_qty", "rejected_missing_key", "duplicate_rows",
    "fixed_bad_return_qty", "fixed_return_qty_over_sold", "flag_mismatch",
    "fixed_invalid_return_date", "missing_return_date", "missing_class", "malformed_rows",
    "after_as_of",
]
FEATURE_FILES = [
    "10_base.sql", "20_volume_returns_temporal.sql", "30_category.sql", "40_adjacency.sql",
    "50_seasonal_trend.sql", "60_silver.sql",
]
CORRUPT = "_rs_corrupt_record"
DEFAULTS = {
    "data.as_of": None,
    "data.drop_duplicate_rows": True,
    "data.recency_window_days": 90.0,
    "data.adjacency_window_days": 14.0,
    "quality.min_orders_per_customer": 2,
}


class JobError(Exception):
    """A problem the user can fix; printed without a traceback."""


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="a table name, or a CSV or Parquet path")
    p.add_argument("--output", required=True, help="folder for silver/, quality_counts/, run_info/")
    p.add_argument("--format", choices=["auto", "csv", "parquet", "table"], default="auto")
    p.add_argument("--delimiter", help="CSV field delimiter (default: sniffed from the header)")
    p.add_argument("--encoding", default="UTF-8", help="CSV encoding (default UTF-8)")
    p.add_argument("--config", help="a ReturnScope configuration file (TOML)")
    p.add_argument("--as-of", dest="data.as_of")
    p.add_argument("--drop-duplicate-rows", dest="data.drop_duplicate_rows", choices=["true", "false"])
    p.add_argument("--recency-window-days", dest="data.recency_window_days", type=float)
    p.add_argument("--adjacency-window-days", dest="data.adjacency_window_days", type=float)
    p.add_argument("--min-orders-per-customer", dest="quality.min_orders_per_customer", type=int)
    return p.parse_args(argv)


def load_settings(args):
    settings = dict(DEFAULTS)
    if args.config:
        try:
            import tomllib
        except ImportError as e:
            raise JobError("--config needs Python 3.11 or later (tomllib); pass the settings as flags") from e
        with open(args.config, "rb") as f:
            doc = tomllib.load(f)
        for key in DEFAULTS:
            section, name = key.split(".")
            if name in doc.get(section, {}):
                settings[key] = doc[section][name]
    for key in DEFAULTS:
        value = getattr(args, key)
        if value is not None:
            settings[key] = value == "true" if key == "data.drop_duplicate_rows" else value
    if settings["data.recency_window_days"] <= 0 or settings["data.adjacency_window_days"] < 0:
        raise JobError("data.recency_window_days must be above 0 and data.adjacency_window_days at least 0")
    if settings["quality.min_orders_per_customer"] < 1:
        raise JobError("quality.min_orders_per_customer must be at least 1")
    return settings


ISO_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(?:\.(\d{1,9}))?)?$")
US_TS = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):([0-5]\d)(?::([0-5]\d))?)?$")


def parse_timestamp(text):
    """A FEATURES.md timestamp as a datetime (None when it is not one)."""
    text = text.strip()
    m = ISO_TS.match(text)
    if m:
        y, mo, d, h, mi, s, frac = m.groups()
    else:
        m = US_TS.match(text)
        if not m:
            return None
        mo, d, y, h, mi, s = m.groups()
        frac = None
    micros = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micros)
    except ValueError:
        return None


def epoch_micros(ts):
    delta = ts - datetime.datetime(1970, 1, 1)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_timestamp(ts):
    text = ts.strftime("%Y-%m-%d %H:%M:%S")
    return text + (".%06d" % ts.microsecond).rstrip("0") if ts.microsecond else text


def input_format(args):
    if args.format != "auto":
        return args.format
    lower = args.input.lower().rstrip("/")
    if re.search(r"\.(csv|txt|tsv)(\.gz|\.bz2)?$", lower):
        return "csv"
    if lower.endswith(".parquet") or os.path.isdir(args.input):
        return "parquet"
    if "/" in lower or ":" in lower:
        return "csv"
    return "table"


def sniff_delimiter(header_line):
    counts = {d: 0 for d in ",;\t|"}
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def normalize(name):
    return name.strip().lstrip("\ufeff").strip().upper()


def canonical_names(header):
    """Internal column names: the canonical required names, extra_<i> for the others."""
    missing = [c for c in REQUIRED_COLUMNS if c not in [normalize(h) for h in header]]
    if missing:
        raise JobError(
            "the input has no column %s (matched case-insensitively). Found: %s"
            % (", ".join(missing), ", ".join(header))
        )
    names, seen = [], set()
    for i, h in enumerate(header):
        n = normalize(h)
        if n in REQUIRED_COLUMNS and n not in seen:
            seen.add(n)
            names.append(n)
        elif n == "GROSS" and "GROSS" not in seen:
            seen.add("GROSS")
            names.append("GROSS")
        else:
            names.append("extra_%d" % i)
    return names


def read_bronze(spark, args):
    """The order lines as text columns with canonical names, and the number of malformed rows."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    fmt = input_format(args)
    if fmt in ("table", "parquet"):
        df = spark.table(args.input) if fmt == "table" else spark.read.parquet(args.input)
        names = canonical_names(df.columns)
        df = df.select([F.col("`%s`" % c).cast("string").alias(n) for c, n in zip(df.columns, names)])
        return df, 0
    first = spark.read.text(args.input).first()
    if first is None:
        raise JobError("the input %s is empty: it has no header line" % args.input)
    delimiter = args.delimiter or sniff_delimiter(first[0])
    options = dict(sep=delimiter, quote='"', escape='"', encoding=args.encoding, multiLine=False)
    header = spark.read.options(header=True, **options).csv(args.input).columns
    names = canonical_names(header)
    schema = StructType([StructField(n, StringType()) for n in names] + [StructField(CORRUPT, StringType())])
    raw = (
        spark.read.options(header=True, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT, **options)
        .schema(schema)
        .csv(args.input)
        .cache()
    )
    malformed = raw.filter(F.col(CORRUPT).isNotNull()).count()
    return raw.filter(F.col(CORRUPT).isNull()).drop(CORRUPT), malformed


def statements(path, values):
    """The statements of one SQL file with its placeholders filled."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace("{%s}" % key, str(value))
    left = re.findall(r"\{[A-Z_]+\}", text)
    if left:
        raise JobError("%s has unfilled placeholders %s" % (path, ", ".join(sorted(set(left)))))
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


def run_sql_file(spark, name, values):
    for statement in statements(os.path.join(SQL_DIR, name), values):
        spark.sql(statement)


def as_of_of(spark, settings):
    configured = settings["data.as_of"]
    if configured:
        ts = parse_timestamp(str(configured))
        if ts is None:
            raise JobError('as_of "%s" is not a timestamp; use a form such as 2024-12-31 or 2024-12-31 23:59:59' % configured)
        return ts
    row = spark.sql("SELECT max(order_ts) AS t FROM rs_kept").first()
    if row is None or row["t"] is None:
        raise JobError("no clean line has an order date, so there is nothing to build features from")
    return row["t"]


def quality_counts(spark, as_of_us, malformed):
    p = spark.sql(
        """SELECT count_if(reject_reason = 'rejected_bad_order_date') AS a,
                  count_if(reject_reason = 'rejected_bad_sales_qty') AS b,
                  count_if(reject_reason = 'rejected_missing_key') AS c,
                  count_if(reject_reason IS NULL) AS kept, count(*) AS rows FROM rs_parsed"""
    ).first()
    c = spark.sql(
        """SELECT count(*) AS clean, count_if(fixed_bad_return_qty) AS a, count_if(fixed_return_qty_over_sold) AS b,
                  count_if(flag_mismatch) AS c, count_if(fixed_invalid_return_date) AS d,
                  count_if(missing_return_date) AS e, count_if(missing_class) AS f,
                  count_if(unix_micros(order_ts) > %d) AS g FROM rs_clean""" % as_of_us
    ).first()
    values = [p["a"], p["b"], p["c"], p["kept"] - c["clean"], c["a"], c["b"], c["c"], c["d"], c["e"], c["f"],
              malformed, c["g"]]
    return dict(zip(QUALITY_COUNTS, values)), p["rows"], c["clean"]


def order_value_columns(has_gross):
    if not has_gross:
        return ""
    return (
        "round(CASE WHEN c.n_orders > 0 THEN a.gross_sum / c.n_orders END, 9) AS avg_order_value,\n"
        "  round(CASE WHEN a.items_returned_count > 0 THEN a.returned_value / a.items_returned_count END, 9)"
        " AS avg_return_value,"
    )


def main(argv):
    args = parse_args(argv)
    settings = load_settings(args)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = SparkSession.builder.appName("returnscope-features").getOrCreate()
    # Timestamps are wall-clock times as written in the file: read and compare them in UTC; an
    # impossible date is NULL, never an error or a guess.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    spark.conf.set("spark.sql.ansi.enabled", "false")

    bronze, malformed = read_bronze(spark, args)
    bronze.createOrReplaceTempView("rs_bronze")
    has_gross = "GROSS" in bronze.columns
    run_sql_file(spark, "00_clean.sql", {
        "RAW_COLUMNS": ", ".join("`%s`" % c for c in bronze.columns),
        "GROSS": "GROSS" if has_gross else "CAST(NULL AS STRING)",
        "DISTINCT": "DISTINCT" if settings["data.drop_duplicate_rows"] else "",
    })
    as_of = as_of_of(spark, settings)
    as_of_us = epoch_micros(as_of)
    us_per_day = 86_400_000_000
    window_days = float(settings["data.recency_window_days"])
    values = {
        "AS_OF_US": as_of_us,
        "W_US": round(window_days * us_per_day),
        "A_US": round(float(settings["data.adjacency_window_days"]) * us_per_day),
        "W_DAYS": "CAST('%r' AS DOUBLE)" % window_days,
        "MIN_ORDERS": int(settings["quality.min_orders_per_customer"]),
        "ORDER_VALUE_COLUMNS": order_value_columns(has_gross),
    }
    for name in FEATURE_FILES:
        run_sql_file(spark, name, values)
    counts, rows_loaded, clean_lines = quality_counts(spark, as_of_us, malformed)

    silver = spark.table("f_silver")
    silver = silver.select(
        [F.col("customer_id").alias("customer_id", metadata={"returnscope_silver_format": SILVER_FORMAT})]
        + [F.col(c) for c in silver.columns if c != "customer_id"]
    ).orderBy("customer_id")
    out = args.output.rstrip("/")
    silver.write.mode("overwrite").parquet(out + "/silver")
    written = spark.read.parquet(out + "/silver")
    customers = written.count()
    eligible = written.filter(F.col("eligible")).count()
    span = spark.sql("SELECT min(order_ts) AS first, max(order_ts) AS last FROM f_lines").first()
    spark.createDataFrame([(n, int(counts[n])) for n in QUALITY_COUNTS], "name string, count bigint") \
        .coalesce(1).write.mode("overwrite").parquet(out + "/quality_counts")
    info = [(SILVER_FORMAT, format_timestamp(as_of), int(rows_loaded), int(malformed), int(clean_lines),
             customers, eligible, window_days, float(settings["data.adjacency_window_days"]),
             int(settings["quality.min_orders_per_customer"]), bool(settings["data.drop_duplicate_rows"]),
             args.input, span["first"] and format_timestamp(span["first"]),
             span["last"] and format_timestamp(span["last"]))]
    spark.createDataFrame(
        info,
        "silver_format int, as_of string, rows_loaded bigint, malformed_rows bigint, clean_lines bigint, "
        "customers bigint, eligible_customers bigint, recency_window_days double, "
        "adjacency_window_days double, min_orders_per_customer int, drop_duplicate_rows boolean, input string, "
        "first_order string, last_order string",
    ).coalesce(1).write.mode("overwrite").parquet(out + "/run_info")

    print("Input:      %s" % args.input)
    print("Rows:       %d loaded, %d malformed, %d clean lines" % (rows_loaded, malformed, clean_lines))
    print("Customers:  %d (%d eligible for segmentation)" % (customers, eligible))
    print("As of:      %s" % format_timestamp(as_of))
    nonzero = ["%s=%d" % (n, counts[n]) for n in QUALITY_COUNTS if counts[n] > 0]
    if nonzero:
        print("Quality:    %s" % ", ".join(nonzero))
    print("Silver:     %s/silver (open it with: returnscope run --silver %s)" % (out, out))
    spark.stop()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except JobError as e:
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
