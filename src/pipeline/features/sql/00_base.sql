-- Base relations for the silver layer. Placeholders: {AS_OF_US} (as_of in epoch microseconds).
-- f_lines: the in-scope clean lines (FEATURES.md "line"), times as integer epoch microseconds so
-- comparisons at window boundaries are exact.
CREATE OR REPLACE TEMP TABLE f_lines AS
SELECT customer_id, order_no, sku_code AS sku, class, order_ts, qty_sold AS sales_qty,
       qty_returned AS return_qty, returned, gross,
       epoch_us(order_ts) AS line_us,
       epoch_us(return_ts) AS ret_us,
       return_ts
FROM bronze_return_order_data
WHERE in_scope;

-- f_orders: one row per (customer, order); order time = earliest ORDER_DATE of its lines;
-- rank by (order time, SALES_ORDER_NO).
CREATE OR REPLACE TEMP TABLE f_orders AS
SELECT customer_id, order_no, order_us, order_ts, is_returning,
       row_number() OVER (PARTITION BY customer_id ORDER BY order_us, order_no) AS rnk
FROM (
  SELECT customer_id, order_no, min(line_us) AS order_us, min(order_ts) AS order_ts,
         bool_or(returned) AS is_returning
  FROM f_lines GROUP BY customer_id, order_no
);

-- f_lines2: lines with their order's time.
CREATE OR REPLACE TEMP TABLE f_lines2 AS
SELECT l.*, o.order_us, o.order_ts AS order_time_ts
FROM f_lines l JOIN f_orders o USING (customer_id, order_no);

-- f_customers: every customer with at least one in-scope line.
CREATE OR REPLACE TEMP TABLE f_customers AS
SELECT customer_id, count(*) AS n_orders, min(order_us) AS first_us, max(order_us) AS last_us,
       ({AS_OF_US} - min(order_us)) / 86400e6 AS lifetime_days
FROM f_orders GROUP BY customer_id;
