-- Volume (1-5), return behaviour (6-11), temporal (15-16) and line-level recency counts (19),
-- one pass over the lines. Placeholders: {AS_OF_US}, {W_US} (recency window in microseconds).
-- The distinct SKUs (and returned SKUs) come from one grouping by (customer, SKU): two
-- count(DISTINCT ...) aggregates would each group every line by (customer, SKU) again.
CREATE OR REPLACE TEMP VIEW f_line_aggs AS
WITH skus AS (
  SELECT cid, count(*) AS sku_nunique, count(*) FILTER (returned) AS return_product_variety
  FROM (SELECT cid, sid, bool_or(returned) AS returned FROM f_lines2 WHERE sid IS NOT NULL GROUP BY cid, sid)
  GROUP BY cid
), lines AS (
  SELECT cid,
    count(*) AS n_lines,
    sum(return_qty) AS items_returned_count,
    avg(sales_qty) AS sales_qty_mean,
    sum(sales_qty) AS units,
    count(*) FILTER (returned) AS returned_lines,
    sum(return_qty) / sum(sales_qty) AS return_ratio,
    count(DISTINCT CAST(return_ts AS DATE)) FILTER (returned AND ret_us IS NOT NULL) AS return_trips,
    sum(return_qty) FILTER (returned) / sum(sales_qty) FILTER (returned) AS return_intensity,
    avg((ret_us - line_us) / 86400e6) FILTER (returned AND ret_us IS NOT NULL) AS avg_days_to_return,
    stddev_samp((ret_us - line_us) / 86400e6) FILTER (returned AND ret_us IS NOT NULL) AS return_timing_spread,
    count(*) FILTER (returned AND ret_us > {AS_OF_US} - {W_US} AND ret_us <= {AS_OF_US}) AS recent_returns,
    count(*) FILTER (returned AND ret_us IS NOT NULL) AS returns_with_date,
    sum(gross) AS gross_sum,
    sum(gross * return_qty / sales_qty) FILTER (returned) AS returned_value
  FROM f_lines2 GROUP BY cid
)
SELECT l.cid, l.n_lines, coalesce(s.sku_nunique, 0) AS sku_nunique, l.items_returned_count,
  l.sales_qty_mean, l.units, l.returned_lines, l.return_ratio,
  coalesce(s.return_product_variety, 0) AS return_product_variety, l.return_trips,
  l.return_intensity, l.avg_days_to_return, l.return_timing_spread, l.recent_returns,
  l.returns_with_date, l.gross_sum, l.returned_value
FROM lines l LEFT JOIN skus s USING (cid);

-- Consecutive returning orders (12-13): gaps and islands over the order rank.
CREATE OR REPLACE TEMP VIEW f_runs AS
WITH r AS (
  SELECT cid, rnk - row_number() OVER (PARTITION BY cid ORDER BY rnk) AS island
  FROM f_orders WHERE is_returning
), runs AS (
  SELECT cid, island, count(*) AS len FROM r GROUP BY cid, island
)
SELECT cid, max(len) AS consecutive_returns, avg(len) AS avg_consecutive_returns
FROM runs GROUP BY cid;

-- Recent orders (18): order time inside (as_of - W, as_of].
CREATE OR REPLACE TEMP VIEW f_recent_orders AS
SELECT cid, count(*) FILTER (order_us > {AS_OF_US} - {W_US} AND order_us <= {AS_OF_US}) AS recent_orders
FROM f_orders GROUP BY cid;

-- Behaviour stability (21): halves split at the midpoint m of first and last order time; an order
-- at exactly m is in the first half (2 * t <= first + last, in exact integers).
CREATE OR REPLACE TEMP VIEW f_halves AS
SELECT l.cid,
  count(*) FILTER (2 * l.order_us <= c.first_us + c.last_us) AS n1,
  count(*) FILTER (2 * l.order_us <= c.first_us + c.last_us AND l.returned) AS r1,
  count(*) FILTER (2 * l.order_us > c.first_us + c.last_us) AS n2,
  count(*) FILTER (2 * l.order_us > c.first_us + c.last_us AND l.returned) AS r2
FROM f_lines2 l JOIN f_customers c USING (cid)
GROUP BY l.cid;
