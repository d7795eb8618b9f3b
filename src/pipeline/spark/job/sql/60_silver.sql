-- The silver layer (the twin of features/sql/50_silver.sql): one row per customer, the 33
-- features of FEATURES.md in its order and with its names, NULL where FEATURES.md says NULL, plus
-- `eligible`. Every DOUBLE is rounded to 9 decimals, as ReturnScope stores it.
-- Placeholders: {AS_OF_US}, {W_DAYS}, {MIN_ORDERS}, {ORDER_VALUE_COLUMNS}.
CREATE OR REPLACE TEMP VIEW f_silver AS
SELECT
  c.cid AS customer_id,
  -- Volume
  c.n_orders AS sales_order_no_nunique,
  a.sku_nunique,
  round(a.items_returned_count, 9) AS items_returned_count,
  round(a.sales_qty_mean, 9) AS sales_qty_mean,
  round(a.units / c.n_orders, 9) AS avg_order_size,
  -- Return behaviour
  round(a.returned_lines / a.n_lines, 9) AS return_rate,
  round(a.return_ratio, 9) AS return_ratio,
  a.return_product_variety,
  round(a.returned_lines / c.n_orders, 9) AS avg_returns_per_order,
  round(a.return_trips / c.n_orders, 9) AS return_frequency_ratio,
  round(a.return_intensity, 9) AS return_intensity,
  coalesce(r.consecutive_returns, 0) AS consecutive_returns,
  round(coalesce(r.avg_consecutive_returns, 0.0D), 9) AS avg_consecutive_returns,
  -- Temporal
  round(c.lifetime_days, 9) AS customer_lifetime_days,
  round(a.avg_days_to_return, 9) AS avg_days_to_return,
  round(a.return_timing_spread, 9) AS return_timing_spread,
  round(({AS_OF_US} - c.last_us) / 86400e6, 9) AS days_since_last_order,
  -- Recency
  ro.recent_orders,
  a.recent_returns,
  round(CASE WHEN a.returns_with_date > 0
       THEN (a.recent_returns / {W_DAYS}) / (a.returns_with_date / greatest(c.lifetime_days, {W_DAYS})) END, 9)
    AS recent_vs_avg_ratio,
  round(CASE WHEN h.n1 > 0 AND h.n2 > 0 THEN 1 - abs(h.r1 / h.n1 - h.r2 / h.n2) END, 9) AS behavior_stability_score,
  -- Category
  round(coalesce(cat.category_diversity_score, 0.0D), 9) AS category_diversity_score,
  round(cat.category_loyalty_score, 9) AS category_loyalty_score,
  round(cat.high_return_category_affinity, 9) AS high_return_category_affinity,
  -- Adjacency
  coalesce(adj.sku_adjacency_orders, 0) AS sku_adjacency_orders,
  coalesce(adj.sku_adjacency_returns, 0) AS sku_adjacency_returns,
  round(adj.sku_adjacency_timing, 9) AS sku_adjacency_timing,
  round(adj.sku_adjacency_return_timing, 9) AS sku_adjacency_return_timing,
  -- Seasonal
  round(s.seasonal_susceptibility_orders, 9) AS seasonal_susceptibility_orders,
  round(s.seasonal_susceptibility_returns, 9) AS seasonal_susceptibility_returns,
  -- Trend
  round(t.trend_product_category_order_rate, 9) AS trend_product_category_order_rate,
  round(t.trend_product_category_return_rate, 9) AS trend_product_category_return_rate,
  -- Label
  CASE WHEN c.lifetime_days <= 90 THEN 'New'
       WHEN c.lifetime_days <= 180 THEN 'Growing'
       WHEN c.lifetime_days <= 365 THEN 'Mature'
       ELSE 'Veteran' END AS customer_tenure_stage,
  {ORDER_VALUE_COLUMNS}
  c.n_orders >= {MIN_ORDERS} AS eligible
FROM f_customers c
JOIN f_line_aggs a ON a.cid = c.cid
JOIN f_recent_orders ro ON ro.cid = c.cid
JOIN f_halves h ON h.cid = c.cid
LEFT JOIN f_runs r ON r.cid = c.cid
LEFT JOIN f_category cat ON cat.cid = c.cid
LEFT JOIN f_adjacency adj ON adj.cid = c.cid
LEFT JOIN f_seasonal s ON s.cid = c.cid
LEFT JOIN f_trend t ON t.cid = c.cid;
