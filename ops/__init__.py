"""Operating diplo: metrics (`Events`), the /metrics, /healthz, /readyz server, JSON logs."""
