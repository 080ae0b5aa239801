"""History from elsewhere: web archives (`backfill`), Open Terms Archive's declarations
(`ota`) and versions (`otaversions`)."""
