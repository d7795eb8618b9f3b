-- Cleaning (FEATURES.md "Cleaning"): the Spark SQL twin of ReturnScope's validate stage.
-- Input view rs_bronze: the raw columns as text (canonical names for the 14 required columns).
-- Placeholders: {RAW_COLUMNS} (every raw column, for duplicate detection), {GROSS} (the GROSS
-- column or NULL), {DISTINCT} (DISTINCT when data.drop_duplicate_rows, else nothing). The lines
-- ordered after as_of are left out in 10_base.sql (as_of defaults to the latest order date here).
-- Every value is trimmed of spaces, tabs and line breaks; empty after trimming means missing.
CREATE OR REPLACE TEMP VIEW rs_trimmed AS
SELECT {RAW_COLUMNS},
  nullif(trim(BOTH ' \t\n\r' FROM CUSTOMER_EMAILID), '') AS t_email,
  nullif(trim(BOTH ' \t\n\r' FROM SALES_ORDER_NO), '') AS t_order,
  nullif(trim(BOTH ' \t\n\r' FROM SKU), '') AS t_sku,
  nullif(trim(BOTH ' \t\n\r' FROM CLASS_), '') AS t_class,
  nullif(trim(BOTH ' \t\n\r' FROM ORDER_DATE), '') AS t_order_date,
  nullif(trim(BOTH ' \t\n\r' FROM SALES_QTY), '') AS t_sales_qty,
  nullif(trim(BOTH ' \t\n\r' FROM RETURN_QTY), '') AS t_return_qty,
  nullif(trim(BOTH ' \t\n\r' FROM RETURN_DATE), '') AS t_return_date,
  lower(nullif(trim(BOTH ' \t\n\r' FROM UNITS_RETURNED_FLAG), '')) AS t_flag,
  nullif(trim(BOTH ' \t\n\r' FROM {GROSS}), '') AS t_gross
FROM rs_bronze;

-- Timestamps: YYYY-MM-DD[( |T)HH:MM:SS[.f{1,9}]] and M/D/YYYY[ H:MM[:SS]]; impossible dates are
-- NULL (spark.sql.legacy.timeParserPolicy=CORRECTED, ANSI mode off). Numbers: plain decimals and
-- scientific notation, finite only ("1,000", NaN and inf are not numbers).
CREATE OR REPLACE TEMP VIEW rs_parsed AS
SELECT *,
  CASE WHEN order_ts IS NULL THEN 'rejected_bad_order_date'
       WHEN sales_qty_num IS NULL OR sales_qty_num <= 0 THEN 'rejected_bad_sales_qty'
       WHEN customer_id IS NULL OR order_no IS NULL THEN 'rejected_missing_key' END AS reject_reason
FROM (
SELECT {RAW_COLUMNS},
  lower(t_email) AS customer_id,
  t_order AS order_no,
  t_sku AS sku_code,
  t_class AS class,
  CASE WHEN t_order_date RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,9})?)?$'
       THEN coalesce(to_timestamp(t_order_date, 'yyyy-MM-dd HH:mm:ss[.SSSSSSSSS]'),
                     to_timestamp(t_order_date, "yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS]"),
                     to_timestamp(t_order_date, 'yyyy-MM-dd'))
       WHEN t_order_date RLIKE '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}( [0-9]{1,2}:[0-5][0-9](:[0-5][0-9])?)?$'
       THEN coalesce(to_timestamp(t_order_date, 'M/d/yyyy H:mm:ss'),
                     to_timestamp(t_order_date, 'M/d/yyyy H:mm'),
                     to_timestamp(t_order_date, 'M/d/yyyy')) END AS order_ts,
  CASE WHEN t_sales_qty RLIKE '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$'
        AND abs(CAST(t_sales_qty AS DOUBLE)) < CAST('Infinity' AS DOUBLE)
       THEN CAST(t_sales_qty AS DOUBLE) END AS sales_qty_num,
  t_return_qty AS rq_text,
  CASE WHEN t_return_qty RLIKE '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$'
        AND abs(CAST(t_return_qty AS DOUBLE)) < CAST('Infinity' AS DOUBLE)
       THEN CAST(t_return_qty AS DOUBLE) END AS rq_num,
  t_return_date AS rd_text,
  CASE WHEN t_return_date RLIKE '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,9})?)?$'
       THEN coalesce(to_timestamp(t_return_date, 'yyyy-MM-dd HH:mm:ss[.SSSSSSSSS]'),
                     to_timestamp(t_return_date, "yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS]"),
                     to_timestamp(t_return_date, 'yyyy-MM-dd'))
       WHEN t_return_date RLIKE '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}( [0-9]{1,2}:[0-5][0-9](:[0-5][0-9])?)?$'
       THEN coalesce(to_timestamp(t_return_date, 'M/d/yyyy H:mm:ss'),
                     to_timestamp(t_return_date, 'M/d/yyyy H:mm'),
                     to_timestamp(t_return_date, 'M/d/yyyy')) END AS rd_ts,
  CASE WHEN t_flag IN ('yes', 'y', 'true', '1') THEN true
       WHEN t_flag IN ('no', 'n', 'false', '0') THEN false END AS flag_value,
  CASE WHEN t_gross RLIKE '^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$'
        AND abs(CAST(t_gross AS DOUBLE)) < CAST('Infinity' AS DOUBLE)
       THEN CAST(t_gross AS DOUBLE) END AS gross
FROM rs_trimmed
) p;

-- Rows not rejected; exact duplicates (every raw column equal) are kept once when
-- data.drop_duplicate_rows is on. The parsed values are functions of the raw columns, so a
-- DISTINCT over every column drops exactly the duplicates.
CACHE TABLE rs_kept AS
SELECT {DISTINCT} * FROM rs_parsed WHERE reject_reason IS NULL;

-- The clean lines with the fixes of the cleaning table and their flags.
CACHE TABLE rs_clean AS
SELECT customer_id, order_no, sku_code, class, order_ts,
  sales_qty_num AS qty_sold,
  rq_clean AS qty_returned,
  rq_clean > 0 AS returned,
  CASE WHEN rd_ts >= order_ts THEN rd_ts END AS return_ts,
  gross,
  rq_text IS NOT NULL AND (rq_num IS NULL OR rq_num < 0) AS fixed_bad_return_qty,
  rq_num IS NOT NULL AND rq_num >= 0 AND rq_num > sales_qty_num AS fixed_return_qty_over_sold,
  flag_value IS NOT NULL AND flag_value <> (rq_clean > 0) AS flag_mismatch,
  rd_text IS NOT NULL AND (rd_ts IS NULL OR rd_ts < order_ts) AS fixed_invalid_return_date,
  rq_clean > 0 AND rd_text IS NULL AS missing_return_date,
  class IS NULL AS missing_class
FROM (
  SELECT *,
    CASE WHEN rq_text IS NULL OR rq_num IS NULL OR rq_num < 0 THEN 0.0D
         WHEN rq_num > sales_qty_num THEN sales_qty_num ELSE rq_num END AS rq_clean
  FROM rs_kept
) q;
