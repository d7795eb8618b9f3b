-- Volume (1-5), return behaviour (6-11), temporal (15-16) and line-level recency counts (19),
-- one pass over the lines. Placeholders: {AS_OF_US}, {W_US} (recency window in microseconds).
CREATE OR REPLACE TEMP TABLE f_line_aggs AS
SELECT customer_id,
  count(*) AS n_lines,
  count(DISTINCT sku) AS sku_nunique,
  sum(return_qty) AS items_returned_count,
  avg(sales_qty) AS sales_qty_mean,
  sum(sales_qty) AS units,
  count(*) FILTER (returned) AS returned_lines,
  sum(return_qty) / sum(sales_qty) AS return_ratio,
  count(DISTINCT sku) FILTER (returned) AS return_product_variety,
  count(DISTINCT CAST(return_ts AS DATE)) FILTER (returned AND ret_us IS NOT NULL) AS return_trips,
  sum(return_qty) FILTER (returned) / sum(sales_qty) FILTER (returned) AS return_intensity,
  avg((ret_us - line_us) / 86400e6) FILTER (returned AND ret_us IS NOT NULL) AS avg_days_to_return,
  stddev_samp((ret_us - line_us) / 86400e6) FILTER (returned AND ret_us IS NOT NULL) AS return_timing_spread,
  count(*) FILTER (returned AND ret_us > {AS_OF_US} - {W_US} AND ret_us <= {AS_OF_US}) AS recent_returns,
  count(*) FILTER (returned AND ret_us IS NOT NULL) AS returns_with_date,
  sum(gross) AS gross_sum,
  sum(gross * return_qty / sales_qty) FILTER (returned) AS returned_value
FROM f_lines2 GROUP BY customer_id;

-- Consecutive returning orders (12-13): gaps and islands over the order rank.
CREATE OR REPLACE TEMP TABLE f_runs AS
WITH r AS (
  SELECT customer_id, rnk - row_number() OVER (PARTITION BY customer_id ORDER BY rnk) AS island
  FROM f_orders WHERE is_returning
), runs AS (
  SELECT customer_id, island, count(*) AS len FROM r GROUP BY customer_id, island
)
SELECT customer_id, max(len) AS consecutive_returns, avg(len) AS avg_consecutive_returns
FROM runs GROUP BY customer_id;

-- Recent orders (18): order time inside (as_of - W, as_of].
CREATE OR REPLACE TEMP TABLE f_recent_orders AS
SELECT customer_id, count(*) FILTER (order_us > {AS_OF_US} - {W_US} AND order_us <= {AS_OF_US}) AS recent_orders
FROM f_orders GROUP BY customer_id;

-- Behaviour stability (21): halves split at the midpoint m of first and last order time; an order
-- at exactly m is in the first half (2 * t <= first + last, in exact integers).
CREATE OR REPLACE TEMP TABLE f_halves AS
SELECT l.customer_id,
  count(*) FILTER (2 * l.order_us <= c.first_us + c.last_us) AS n1,
  count(*) FILTER (2 * l.order_us <= c.first_us + c.last_us AND l.returned) AS r1,
  count(*) FILTER (2 * l.order_us > c.first_us + c.last_us) AS n2,
  count(*) FILTER (2 * l.order_us > c.first_us + c.last_us AND l.returned) AS r2
FROM f_lines2 l JOIN f_customers c USING (customer_id)
GROUP BY l.customer_id;
