"""The interactive web demo (app.py): type a caption, watch the motion in the browser, download it.

params.py    checks a generate request's fields
jobs.py      one heavy job at a time, with queue positions, progress and cancel
engine.py    the work of the jobs: sampling motions, fitting a body
samples.py   the session's samples and their downloads (npy, bvh, mp4, mesh)
handlers.py  the HTTP API and the static files
server.py    the stdlib HTTP server around them
static/      the page (three.js vendored under static/vendor/three, MIT)
"""
