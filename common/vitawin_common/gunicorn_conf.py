"""Gunicorn settings shared by every service API: `gunicorn -c python:vitawin_common.gunicorn_conf`.
No --preload: Kafka producers and MongoClient are created per worker, after the fork."""
import os
import shutil

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
graceful_timeout = 10
accesslog = None  # the app logs requests as JSON with the correlation id
# gunicorn 27 opens one control socket per host user by default: several APIs on one machine
# would share it. Nothing here uses it.
control_socket_disable = True


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
