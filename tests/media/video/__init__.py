"""Tests for restorecli.media.video, one module per source module."""
