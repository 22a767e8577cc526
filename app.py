"""Web demo: type a caption, watch the generated motion in the browser (three.js), download it.

    python app.py [--cfg configs/demo_finetune.yaml] [test_checkpoint=PATH] [--host 127.0.0.1] [--port 7860]

Serves http://HOST:PORT until Ctrl-C; works offline (everything the page loads comes from this server).
The checkpoint is found as for generate.py (without one, the shipped pretrained model, and the log says so). Each job's files go to `<save_dir>/<NAME>/app/<time>/`
(or app.output_dir), next to the resolved config.yaml. The endpoints are listed in
crossdiff/webapp/handlers.py and the README's "Web demo" section.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from crossdiff import runtime
from crossdiff.config import config_parser, load_config, to_yaml
from crossdiff.errors import UserError, exit_code
from crossdiff.inference import load_sampler, resolve_model
from crossdiff.webapp.server import build_demo

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860


def main(cfg, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Load the model, then serve the demo until interrupted."""
    rt = runtime.setup(cfg.device, cfg.seed)
    try:  # before any folder is made: a missing model must not leave an empty run behind
        resolved = resolve_model(cfg)   # without a trained model: the shipped one, with its own config
    except UserError as e:
        raise UserError(f"{e}. `make demo` trains the model of configs/demo_finetune.yaml (about 20 min on "
                        f"2 CPU cores); `make app` then serves it") from None
    cfg = resolved.cfg
    out_dir = Path(cfg.app.output_dir) if cfg.app.output_dir else runtime.run_dir(cfg.save_dir, cfg.NAME) / "app"
    out_dir, log = runtime.start_run(out_dir.parent, out_dir.name, to_yaml(cfg), rt.is_main)
    if resolved.note:
        log.info(resolved.note)
    sampler = load_sampler(cfg, rt.device, log)
    demo = build_demo(cfg, sampler, out_dir / time.strftime("%Y%m%d-%H%M%S"), log, host, port)
    d = sampler.diffusion
    log.info(f"model {sampler.checkpoint}: {d.sampler} {d.sampling.num_timesteps} steps")
    log.info(f"web demo at {demo.url} (Ctrl-C stops it)")
    try:
        demo.serve_forever()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        demo.close()


def stop_on_signals() -> None:
    """Ctrl-C and `kill` (SIGTERM) both stop the server cleanly, even when the process was started with
    SIGINT ignored (a background job of a non-interactive shell, nohup), which Python would otherwise keep."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def cli(argv=None) -> int:
    stop_on_signals()
    parser = config_parser(__doc__, "configs/demo_finetune.yaml")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    args = parser.parse_intermixed_args(argv)
    return exit_code(lambda: main(load_config(args.cfg, args.overrides), args.host, args.port))


if __name__ == "__main__":
    sys.exit(cli())
