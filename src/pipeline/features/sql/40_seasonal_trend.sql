-- Seasonal (29-30): meteorological seasons; population std / mean over the four season counts.
CREATE OR REPLACE TEMP MACRO rs_season(m) AS
  CASE WHEN m IN (12, 1, 2) THEN 1 WHEN m IN (3, 4, 5) THEN 2 WHEN m IN (6, 7, 8) THEN 3 ELSE 4 END;
CREATE OR REPLACE TEMP MACRO rs_cv4(a, b, c, d) AS
  CASE WHEN a + b + c + d > 0 THEN
    sqrt(((a - (a + b + c + d) / 4.0) ^ 2 + (b - (a + b + c + d) / 4.0) ^ 2
        + (c - (a + b + c + d) / 4.0) ^ 2 + (d - (a + b + c + d) / 4.0) ^ 2) / 4.0)
    / ((a + b + c + d) / 4.0) END;

-- The season of each line's order (and return) is computed once, not once per count.
CREATE OR REPLACE TEMP VIEW f_seasonal AS
WITH l AS (
  SELECT cid, rs_season(month(order_time_ts)) AS order_season,
    CASE WHEN returned AND return_ts IS NOT NULL THEN rs_season(month(return_ts)) END AS return_season
  FROM f_lines2
), s AS (
  SELECT cid,
    count(*) FILTER (order_season = 1) AS o1,
    count(*) FILTER (order_season = 2) AS o2,
    count(*) FILTER (order_season = 3) AS o3,
    count(*) FILTER (order_season = 4) AS o4,
    count(*) FILTER (return_season = 1) AS r1,
    count(*) FILTER (return_season = 2) AS r2,
    count(*) FILTER (return_season = 3) AS r3,
    count(*) FILTER (return_season = 4) AS r4
  FROM l GROUP BY cid
)
SELECT s.cid,
  CASE WHEN c.lifetime_days >= 365 THEN rs_cv4(o1, o2, o3, o4) END AS seasonal_susceptibility_orders,
  CASE WHEN c.lifetime_days >= 365 AND r1 + r2 + r3 + r4 >= 2 THEN rs_cv4(r1, r2, r3, r4) END
    AS seasonal_susceptibility_returns
FROM s JOIN f_customers c USING (cid);

-- Trend (31-32): cells are (class, calendar month of the order time); "others" are the lines of
-- every other customer. Each of the customer's lines in a cell carries the same index, so the
-- mean over lines is a mean over cells weighted by the customer's lines in them.
CREATE OR REPLACE TEMP VIEW f_trend AS
WITH lines AS (
  SELECT cid, kid, year(order_time_ts) * 12 + month(order_time_ts) AS ym, returned
  FROM f_lines2 WHERE kid IS NOT NULL
), m_total AS (
  SELECT max(ym) - min(ym) + 1 AS months
  FROM (SELECT year(order_time_ts) * 12 + month(order_time_ts) AS ym FROM f_lines2)
), cells AS (
  SELECT kid, ym, count(*) AS n, count(*) FILTER (returned) AS r FROM lines GROUP BY kid, ym
), classes AS (
  SELECT kid, count(*) AS n, count(*) FILTER (returned) AS r FROM lines GROUP BY kid
), own_cells AS (
  SELECT cid, kid, ym, count(*) AS n, count(*) FILTER (returned) AS r
  FROM lines GROUP BY cid, kid, ym
), own_classes AS (
  SELECT cid, kid, count(*) AS n, count(*) FILTER (returned) AS r
  FROM lines GROUP BY cid, kid
), per_cell AS (
  SELECT oc.cid, oc.n AS weight,
    CASE WHEN cl.n - ocl.n > 0
         THEN (ce.n - oc.n) / ((cl.n - ocl.n) / (SELECT months FROM m_total)) END AS order_index,
    CASE WHEN ce.n - oc.n > 0 THEN (ce.r - oc.r) / (ce.n - oc.n) END AS cell_rate,
    CASE WHEN cl.n - ocl.n > 0 THEN (cl.r - ocl.r) / (cl.n - ocl.n) END AS class_rate
  FROM own_cells oc
  JOIN cells ce USING (kid, ym)
  JOIN classes cl USING (kid)
  JOIN own_classes ocl ON ocl.cid = oc.cid AND ocl.kid = oc.kid
)
SELECT cid,
  sum(order_index * weight) FILTER (order_index IS NOT NULL)
    / sum(weight) FILTER (order_index IS NOT NULL) AS trend_product_category_order_rate,
  sum(cell_rate / class_rate * weight) FILTER (cell_rate IS NOT NULL AND class_rate > 0)
    / sum(weight) FILTER (cell_rate IS NOT NULL AND class_rate > 0) AS trend_product_category_return_rate
FROM per_cell GROUP BY cid;
