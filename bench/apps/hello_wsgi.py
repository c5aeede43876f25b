# The seed's reference point: a WSGI hello world for Gunicorn (sync workers).


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
    return [b"hello world\n"]
