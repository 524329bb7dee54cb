"""Scheduled work: poll feeds, classify and queue alerts, deliver them."""
