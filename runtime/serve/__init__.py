"""`edge up`: the host that runs requests in regions, the HTTP server, the admin API,
the Hrana endpoints, and the worker processes under their supervisor."""
