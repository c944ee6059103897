"""What remains of calls: session reports, tenants' webhooks and their deliveries, in SQL
(SQLite by default, PostgreSQL in production), the same way the reference Mesh keeps its data."""
