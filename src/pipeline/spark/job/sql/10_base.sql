-- Base relations (the twin of features/sql/00_base.sql). Placeholder: {AS_OF_US} (as_of in epoch
-- microseconds). Keys stay text here (customer_id, order_no, SKU, class): an order is identified
-- by (cid, oid). Times are integer epoch microseconds (session time zone UTC), so comparisons at
-- window boundaries are exact. The lines are the clean lines ordered on or before as_of.
CACHE TABLE f_lines AS
SELECT customer_id AS cid, order_no AS oid, sku_code AS sid, class AS kid, order_ts,
       qty_sold AS sales_qty, qty_returned AS return_qty, returned, gross,
       unix_micros(order_ts) AS line_us, unix_micros(return_ts) AS ret_us, return_ts
FROM rs_clean WHERE unix_micros(order_ts) <= {AS_OF_US};

-- One row per order; order time = earliest ORDER_DATE of its lines; orders of a customer are
-- ranked by (order time, SALES_ORDER_NO).
CACHE TABLE f_orders AS
SELECT cid, oid, order_us, order_ts, is_returning,
       row_number() OVER (PARTITION BY cid ORDER BY order_us, oid) AS rnk
FROM (
  SELECT cid, oid, min(line_us) AS order_us, min(order_ts) AS order_ts, bool_or(returned) AS is_returning
  FROM f_lines GROUP BY cid, oid
) a;

-- Lines with their order's time.
CACHE TABLE f_lines2 AS
SELECT l.*, o.order_us, o.order_ts AS order_time_ts
FROM f_lines l JOIN f_orders o ON o.cid = l.cid AND o.oid = l.oid;

-- Every customer with at least one in-scope line.
CACHE TABLE f_customers AS
SELECT cid, count(*) AS n_orders, min(order_us) AS first_us, max(order_us) AS last_us,
       ({AS_OF_US} - min(order_us)) / 86400e6 AS lifetime_days
FROM f_orders GROUP BY cid;
