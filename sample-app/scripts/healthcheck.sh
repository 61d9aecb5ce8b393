#!/bin/sh
# Container health check shared by the Node services: GET /health on the service's port.
wget -q -O /dev/null "http://127.0.0.1:${PORT:-8080}/health"
