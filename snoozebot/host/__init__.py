"""The plugin host: discovery, protocol, worker, process supervision, manager."""
