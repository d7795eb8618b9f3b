-- Base relations for the silver layer. Placeholders: {AS_OF_US} (as_of in epoch microseconds).
-- Customers, orders, SKUs and classes get dense integer keys first: every later join, window and
-- distinct count works on integers instead of strings. Times are integer epoch microseconds so
-- comparisons at window boundaries are exact.

-- f_lines: the in-scope clean lines (FEATURES.md "line"), read straight from bronze_quality (a
-- view, not a copy: hashing its dictionary-compressed strings costs less than copying them into a
-- temp table first).
CREATE OR REPLACE TEMP VIEW f_lines AS
SELECT customer_id, order_no, sku_code, class, order_ts, qty_sold, qty_returned, returned, gross, return_ts
FROM bronze_quality WHERE in_scope;

CREATE OR REPLACE TEMP TABLE f_customer_keys AS
SELECT customer_id, CAST(row_number() OVER (ORDER BY customer_id) AS INTEGER) AS cid
FROM (SELECT DISTINCT customer_id FROM f_lines);

-- f_order_keys: one row per order (customer, SALES_ORDER_NO) with its key and what the features
-- need of it: order time = earliest ORDER_DATE of its lines, and whether any line was returned.
CREATE OR REPLACE TEMP TABLE f_order_keys AS
SELECT c.cid, o.customer_id, o.order_no, CAST(row_number() OVER () AS INTEGER) AS oid,
       o.order_ts, epoch_us(o.order_ts) AS order_us, o.is_returning
FROM (
  SELECT customer_id, order_no, min(order_ts) AS order_ts, bool_or(returned) AS is_returning
  FROM f_lines GROUP BY customer_id, order_no
) o JOIN f_customer_keys c USING (customer_id);

CREATE OR REPLACE TEMP TABLE f_sku_keys AS
SELECT sku_code, CAST(row_number() OVER () AS INTEGER) AS sid
FROM (SELECT DISTINCT sku_code FROM f_lines WHERE sku_code IS NOT NULL);

CREATE OR REPLACE TEMP TABLE f_class_keys AS
SELECT class, CAST(row_number() OVER () AS INTEGER) AS kid
FROM (SELECT DISTINCT class FROM f_lines WHERE class IS NOT NULL);

-- f_lines2: the lines with integer keys and their order's time; SKU / class NULL for an empty SKU
-- / class.
CREATE OR REPLACE TEMP TABLE f_lines2 AS
SELECT o.cid, o.oid, s.sid, k.kid, l.order_ts, l.qty_sold AS sales_qty, l.qty_returned AS return_qty,
       l.returned, l.gross, epoch_us(l.order_ts) AS line_us, epoch_us(l.return_ts) AS ret_us, l.return_ts,
       o.order_us, o.order_ts AS order_time_ts
FROM f_lines l
JOIN f_order_keys o USING (customer_id, order_no)
LEFT JOIN f_sku_keys s USING (sku_code)
LEFT JOIN f_class_keys k USING (class);

-- f_orders: one row per order; the orders of a customer are ranked by (order time, SALES_ORDER_NO).
CREATE OR REPLACE TEMP TABLE f_orders AS
SELECT cid, oid, order_us, order_ts, is_returning,
       row_number() OVER (PARTITION BY cid ORDER BY order_us, order_no) AS rnk
FROM f_order_keys;

-- f_customers: every customer with at least one in-scope line.
CREATE OR REPLACE TEMP TABLE f_customers AS
SELECT cid, count(*) AS n_orders, min(order_us) AS first_us, max(order_us) AS last_us,
       ({AS_OF_US} - min(order_us)) / 86400e6 AS lifetime_days
FROM f_orders GROUP BY cid;
