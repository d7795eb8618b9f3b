-- Base relations for the silver layer. Placeholders: {AS_OF_US} (as_of in epoch microseconds).
-- Customers, orders, SKUs and classes get dense integer keys first: every later join, window and
-- distinct count works on integers instead of strings. Times are integer epoch microseconds so
-- comparisons at window boundaries are exact.
CREATE OR REPLACE TEMP TABLE f_src AS
SELECT customer_id, order_no, sku_code, class, order_ts, qty_sold, qty_returned, returned, gross, return_ts
FROM bronze_quality WHERE in_scope;

CREATE OR REPLACE TEMP TABLE f_customer_keys AS
SELECT customer_id, CAST(row_number() OVER (ORDER BY customer_id) AS INTEGER) AS cid
FROM (SELECT DISTINCT customer_id FROM f_src);

CREATE OR REPLACE TEMP TABLE f_order_keys AS
SELECT customer_id, order_no, CAST(row_number() OVER () AS INTEGER) AS oid
FROM (SELECT DISTINCT customer_id, order_no FROM f_src);

CREATE OR REPLACE TEMP TABLE f_sku_keys AS
SELECT sku_code, CAST(row_number() OVER () AS INTEGER) AS sid
FROM (SELECT DISTINCT sku_code FROM f_src WHERE sku_code IS NOT NULL);

CREATE OR REPLACE TEMP TABLE f_class_keys AS
SELECT class, CAST(row_number() OVER () AS INTEGER) AS kid
FROM (SELECT DISTINCT class FROM f_src WHERE class IS NOT NULL);

-- f_lines: the in-scope clean lines (FEATURES.md "line"); SKU / class NULL for an empty SKU / class.
CREATE OR REPLACE TEMP TABLE f_lines AS
SELECT c.cid, o.oid, s.sid, k.kid, l.order_ts, l.qty_sold AS sales_qty, l.qty_returned AS return_qty,
       l.returned, l.gross, epoch_us(l.order_ts) AS line_us, epoch_us(l.return_ts) AS ret_us, l.return_ts
FROM f_src l
JOIN f_customer_keys c USING (customer_id)
JOIN f_order_keys o USING (customer_id, order_no)
LEFT JOIN f_sku_keys s USING (sku_code)
LEFT JOIN f_class_keys k USING (class);

-- f_orders: one row per order; order time = earliest ORDER_DATE of its lines; orders of a customer
-- are ranked by (order time, SALES_ORDER_NO).
CREATE OR REPLACE TEMP TABLE f_orders AS
SELECT a.cid, a.oid, a.order_us, a.order_ts, a.is_returning,
       row_number() OVER (PARTITION BY a.cid ORDER BY a.order_us, ok.order_no) AS rnk
FROM (
  SELECT cid, oid, min(line_us) AS order_us, min(order_ts) AS order_ts, bool_or(returned) AS is_returning
  FROM f_lines GROUP BY cid, oid
) a JOIN f_order_keys ok USING (oid);

-- f_lines2: lines with their order's time.
CREATE OR REPLACE TEMP TABLE f_lines2 AS
SELECT l.*, o.order_us, o.order_ts AS order_time_ts
FROM f_lines l JOIN f_orders o USING (oid);

-- f_customers: every customer with at least one in-scope line.
CREATE OR REPLACE TEMP TABLE f_customers AS
SELECT cid, count(*) AS n_orders, min(order_us) AS first_us, max(order_us) AS last_us,
       ({AS_OF_US} - min(order_us)) / 86400e6 AS lifetime_days
FROM f_orders GROUP BY cid;
