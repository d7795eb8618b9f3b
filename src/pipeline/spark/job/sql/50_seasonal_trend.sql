-- Seasonal (29-30) and trend (31-32): the twin of features/sql/40_seasonal_trend.sql. Spark SQL
-- has no macros: the season of a month and the population coefficient of variation of the four
-- season counts are written out.
CREATE OR REPLACE TEMP VIEW f_seasonal AS
WITH m AS (
  SELECT cid, returned, return_ts,
    CASE WHEN month(order_time_ts) IN (12, 1, 2) THEN 1 WHEN month(order_time_ts) IN (3, 4, 5) THEN 2
         WHEN month(order_time_ts) IN (6, 7, 8) THEN 3 ELSE 4 END AS order_season,
    CASE WHEN month(return_ts) IN (12, 1, 2) THEN 1 WHEN month(return_ts) IN (3, 4, 5) THEN 2
         WHEN month(return_ts) IN (6, 7, 8) THEN 3 ELSE 4 END AS return_season
  FROM f_lines2
), s AS (
  SELECT cid,
    count(*) FILTER (WHERE order_season = 1) AS o1,
    count(*) FILTER (WHERE order_season = 2) AS o2,
    count(*) FILTER (WHERE order_season = 3) AS o3,
    count(*) FILTER (WHERE order_season = 4) AS o4,
    count(*) FILTER (WHERE returned AND return_ts IS NOT NULL AND return_season = 1) AS r1,
    count(*) FILTER (WHERE returned AND return_ts IS NOT NULL AND return_season = 2) AS r2,
    count(*) FILTER (WHERE returned AND return_ts IS NOT NULL AND return_season = 3) AS r3,
    count(*) FILTER (WHERE returned AND return_ts IS NOT NULL AND return_season = 4) AS r4
  FROM m GROUP BY cid
), means AS (
  SELECT *, (o1 + o2 + o3 + o4) / 4.0D AS om, (r1 + r2 + r3 + r4) / 4.0D AS rm FROM s
)
SELECT x.cid,
  CASE WHEN c.lifetime_days >= 365 AND o1 + o2 + o3 + o4 > 0 THEN
    sqrt((power(o1 - om, 2) + power(o2 - om, 2) + power(o3 - om, 2) + power(o4 - om, 2)) / 4.0D) / om
  END AS seasonal_susceptibility_orders,
  CASE WHEN c.lifetime_days >= 365 AND r1 + r2 + r3 + r4 >= 2 THEN
    sqrt((power(r1 - rm, 2) + power(r2 - rm, 2) + power(r3 - rm, 2) + power(r4 - rm, 2)) / 4.0D) / rm
  END AS seasonal_susceptibility_returns
FROM means x JOIN f_customers c ON c.cid = x.cid;

-- Trend (31-32): cells are (class, calendar month of the order time); "others" are the lines of
-- every other customer; the mean over lines is a mean over cells weighted by the customer's lines.
CREATE OR REPLACE TEMP VIEW f_trend AS
WITH lines AS (
  SELECT cid, kid, year(order_time_ts) * 12 + month(order_time_ts) AS ym, returned
  FROM f_lines2 WHERE kid IS NOT NULL
), m_total AS (
  SELECT max(ym) - min(ym) + 1 AS months
  FROM (SELECT year(order_time_ts) * 12 + month(order_time_ts) AS ym FROM f_lines2) y
), cells AS (
  SELECT kid, ym, count(*) AS n, count(*) FILTER (WHERE returned) AS r FROM lines GROUP BY kid, ym
), classes AS (
  SELECT kid, count(*) AS n, count(*) FILTER (WHERE returned) AS r FROM lines GROUP BY kid
), own_cells AS (
  SELECT cid, kid, ym, count(*) AS n, count(*) FILTER (WHERE returned) AS r
  FROM lines GROUP BY cid, kid, ym
), own_classes AS (
  SELECT cid, kid, count(*) AS n, count(*) FILTER (WHERE returned) AS r
  FROM lines GROUP BY cid, kid
), per_cell AS (
  SELECT oc.cid, oc.n AS weight,
    CASE WHEN cl.n - ocl.n > 0
         THEN (ce.n - oc.n) / ((cl.n - ocl.n) / (SELECT months FROM m_total)) END AS order_index,
    CASE WHEN ce.n - oc.n > 0 THEN (ce.r - oc.r) / (ce.n - oc.n) END AS cell_rate,
    CASE WHEN cl.n - ocl.n > 0 THEN (cl.r - ocl.r) / (cl.n - ocl.n) END AS class_rate
  FROM own_cells oc
  JOIN cells ce ON ce.kid = oc.kid AND ce.ym = oc.ym
  JOIN classes cl ON cl.kid = oc.kid
  JOIN own_classes ocl ON ocl.cid = oc.cid AND ocl.kid = oc.kid
)
SELECT cid,
  sum(order_index * weight) FILTER (WHERE order_index IS NOT NULL)
    / sum(weight) FILTER (WHERE order_index IS NOT NULL) AS trend_product_category_order_rate,
  sum(cell_rate / class_rate * weight) FILTER (WHERE cell_rate IS NOT NULL AND class_rate > 0)
    / sum(weight) FILTER (WHERE cell_rate IS NOT NULL AND class_rate > 0) AS trend_product_category_return_rate
FROM per_cell GROUP BY cid;
