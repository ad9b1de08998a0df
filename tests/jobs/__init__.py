"""Tests for restorecli.jobs, one module per source module."""
