"""Issue 14, items 6 and 7: a service that echoes secrets back in other encodings,
sends a token with CR/LF in it, or puts workflow commands in its messages.

Each run is a real one: the container action's entrypoint (or `python -m ci_trainer
run`) against the emulator behind a hostile proxy (tests/security/hostile.py) on
127.0.0.1, with a webhook receiver. Then everything the run wrote (stdout, stderr,
GITHUB_OUTPUT, the step summary, the CLI's output folder, the audit log, every webhook
request) is swept for every secret in every encoding (computed here, independently of
ci_trainer.redact), and stdout and stderr are read the way the runner reads them
(tests/github/runner_commands.py) to check that nothing foreign acts as a command.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from faults.support import Receiver, write_project
from runner_commands import Runner, parse, read_lines

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from security.hostile import Exchange, HostileProxy, Rewrite, encodings
from security.test_secret_sweep import audit_logs, clean_env, output_value

REPO = Path(__file__).resolve().parents[2]
CLIENT_ID = "hostile-client"
# Characters that every encoding changes: / + space quotes backslash % & = and non-ASCII.
CLIENT_SECRET = "Hx/se+cr3t \"q'u\\o%te&k=v \u00fc~9"
WEBHOOK_SECRET = "Wh/ook+s3c \"r'e\\t%&=\u00e9~4"
FOREIGN = "FOREIGN-7c1"  # on every line the service writes, to find those lines again
FORGED = "\n".join(
    f"{line} {FOREIGN}"
    for line in (
        "::set-output name=decision::promoted",
        "::add-mask::the",
        "##[error]legacy form",
        "ok\r::set-output name=x::y",
        "ok\r\n  ::add-mask::z",
        "\u3000::warning::after an ideographic space",
        "\x00::notice::after a NUL",
        "\u200b::group::after a zero-width space",
        "::stop-commands::pause",
        "#\u200b#[error]split legacy",
    )
).replace("\r", f" {FOREIGN}\r")  # the part before a CR is a line of its own too
BROKEN_TOKEN = "tok-9f2c41d7\r\n::set-output name=decision::promoted\x00tail-5be1"
OURS = {"add-mask", "group", "endgroup", "error", "warning", "notice", "stop-commands"}


def echo_of_secrets(proxy: HostileProxy) -> str:
    """Every secret the service could know of, in every encoding, in one text."""
    secrets = [CLIENT_SECRET, WEBHOOK_SECRET, *proxy.tokens]
    return " | ".join(
        f"{name}={form}" for secret in secrets for name, form in encodings(secret).items()
    )


def _problem(status: int, text: str) -> Rewrite:
    body = {"type": "about:blank", "title": f"refused: {text[:80]}", "detail": text}
    return status, "application/problem+json", json.dumps(body).encode()


def secrets_in_error_body(exchange: Exchange, proxy: HostileProxy) -> Rewrite | None:
    if exchange.path.endswith("/train"):
        return _problem(400, echo_of_secrets(proxy))
    return None


def secrets_and_commands_in_a_message(exchange: Exchange, proxy: HostileProxy) -> Rewrite | None:
    if exchange.path.endswith("/stats") and len(proxy.exchanges) <= 3:
        return _problem(503, FORGED)  # retried: a retry notice on stderr
    if exchange.path.endswith("/status"):
        body = json.loads(exchange.answer)
        body |= {"status": "FAILED", "message": f"{echo_of_secrets(proxy)}\n{FORGED}"}
        return 200, "application/json", json.dumps(body).encode()
    return None


def secrets_in_a_plain_text_body(exchange: Exchange, proxy: HostileProxy) -> Rewrite | None:
    if exchange.path.endswith("/train"):
        return 422, "text/plain; charset=utf-8", f"{echo_of_secrets(proxy)}\n{FORGED}".encode()
    return None


def passes_through(exchange: Exchange, proxy: HostileProxy) -> Rewrite | None:
    return None


def token_with_control_characters(exchange: Exchange, proxy: HostileProxy) -> Rewrite | None:
    if exchange.path.endswith("/auth/token"):
        body = {"access_token": BROKEN_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        return 200, "application/json", json.dumps(body).encode()
    return None


@dataclass(frozen=True)
class Case:
    name: str
    rewrite: object
    cli: bool = False
    expect: tuple[str, int] = ("failed", 3)
    # keys added to the training config: text from a user file
    config: tuple[tuple[str, object], ...] = ()
    mode: str = "train"
    intercept: object = None  # a security.hostile.Interceptor
    signal_at: str | None = None  # SIGTERM once a request whose path ends so arrived


USER_FILE = (("training", {"epochz": 1, **{line: 1 for line in FORGED.split("\n")[:4]}}),)
CASES = (
    Case("error body", secrets_in_error_body),
    Case("plain-text error body", secrets_in_a_plain_text_body),
    Case("user file", passes_through, expect=("invalid", 2), config=USER_FILE),
    Case("user file (cli)", passes_through, cli=True, expect=("invalid", 2), config=USER_FILE),
    Case("message", secrets_and_commands_in_a_message),
    Case("message (cli)", secrets_and_commands_in_a_message, cli=True),
    Case("control characters in the token", token_with_control_characters),
    Case("control characters in the token (cli)", token_with_control_characters, cli=True),
)


@dataclass
class Ran:
    case: Case
    exit_code: int
    stdout: str
    stderr: str
    texts: dict[str, str]  # where -> what the run wrote there
    decision: str
    reason: str
    tokens: list[str]
    emulator: Emulator | None = None  # still serving until the test's stack closes


def test_hostile_service_leaks_no_secret_and_forges_no_command(tmp_path: Path) -> None:
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(run_case, case, tmp_path / f"case{n}", stack)
            for n, case in enumerate(CASES)
        ]
        runs = [future.result() for future in futures]
    tokens = {token for ran in runs for token in ran.tokens}
    assert tokens, "the service issued no token: the sweep would prove nothing about them"
    secrets = [CLIENT_SECRET, WEBHOOK_SECRET, *tokens, BROKEN_TOKEN, *BROKEN_TOKEN.split("\r\n")]
    for ran in runs:
        where = ran.case.name
        assert (ran.decision, ran.exit_code) == ran.case.expect, (where, ran.reason, ran.stderr)
        assert list(leaks(ran, secrets)) == [], where
        assert_no_forged_command(ran.stdout, where)
        assert_no_forged_command(ran.stderr, where)
        if not ran.case.cli:
            assert_masked_before_output(ran)
    by_name = {ran.case.name: ran for ran in runs}
    assert "HTTP 400" in by_name["error body"].reason
    assert "HTTP 422" in by_name["plain-text error body"].reason
    for name in ("user file", "user file (cli)"):
        assert FOREIGN in by_name[name].stdout + by_name[name].stderr, name
    assert "FAILED" in by_name["message"].reason or "failed" in by_name["message"].reason
    for name in ("control characters in the token", "control characters in the token (cli)"):
        reason = by_name[name].reason
        assert "'access_token' contains a control character (U+000D)" in reason, reason
    # the message reached the outputs, neutralised; the forged output was never set
    message_run = by_name["message"]
    assert FOREIGN in message_run.texts["GITHUB_STEP_SUMMARY"]
    cli_line = by_name["message (cli)"].stdout.splitlines()[-1]
    assert cli_line.startswith("ci-trainer: failed - ") and FOREIGN in cli_line


def leaks(ran: Ran, secrets: list[str]) -> Iterator[str]:
    for secret in secrets:
        for encoding, form in encodings(secret, CLIENT_ID).items():
            if len(form) < 4:
                continue
            for place, text in ran.texts.items():
                if form in text:
                    yield f"{secret[:6]}... ({encoding}) in {place}"


def assert_no_forged_command(output: str, where: str) -> None:
    """Read as the runner reads it: only our own commands, and none carrying foreign
    text except as the escaped data or title of an annotation."""
    runner = Runner()
    for command in runner.feed(output):
        if command.name == "stop-commands":
            assert re.fullmatch(r"ci-trainer-[0-9a-f]{32}", command.data), (where, command)
            continue
        assert command.name in OURS or command.name.startswith("ci-trainer-"), (where, command)
        if command.name == "add-mask":
            assert FOREIGN not in command.data, (where, command)
    assert not runner.stopped, f"{where}: command processing left stopped"
    for line in read_lines(output):
        if FOREIGN not in line:
            continue
        command = parse(line)  # on its own, as if no stop-commands were around it
        assert command is None or (
            command.name in ("error", "warning", "notice") and line.startswith(f"::{command.name}")
        ), (where, line)
        assert "##[" not in line, (where, line)


def assert_masked_before_output(ran: Ran) -> None:
    """Each encoding of each configured secret is broken by a mask that the runner got
    before anything else was printed."""
    lines = ran.stdout.splitlines()
    first = next(n for n, line in enumerate(lines) if not line.startswith("::add-mask::"))
    masks = [parse(line).data for line in lines[:first]]  # type: ignore[union-attr]
    for secret in (CLIENT_SECRET, WEBHOOK_SECRET):
        for encoding, form in encodings(secret, CLIENT_ID).items():
            assert any(mask in form for mask in masks), (ran.case.name, encoding)


# ------------------------------------------------------------------------- one run


def run_case(case: Case, root: Path, stack: ExitStack) -> Ran:
    root.mkdir(parents=True)
    config = write_project(root)
    emulator = Emulator.from_config(
        config, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, time_scale=0.0
    )
    stack.enter_context(emulator)
    if case.config:
        document = json.loads(config.read_text(encoding="utf-8"))
        for section, extra in case.config:
            document[section] |= extra  # type: ignore[operator]
        config.write_text(json.dumps(document), encoding="utf-8")
    proxy = HostileProxy(emulator.base_url, case.rewrite, intercept=case.intercept)  # type: ignore[arg-type]
    stack.callback(proxy.close)
    receiver = Receiver()
    stack.callback(receiver.close)
    env = clean_env() | {"WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": WEBHOOK_SECRET}
    env |= {"COGNIGY_BASE_URL": proxy.base_url, "COGNIGY_CLIENT_ID": CLIENT_ID}
    env |= {"COGNIGY_CLIENT_SECRET": CLIENT_SECRET}
    texts: dict[str, str] = {}
    if case.cli:
        out = root / "out"
        command = [sys.executable, "-m", "ci_trainer", "run", "--output-dir", str(out)]
        command += ["--mode", case.mode]
    else:
        out = root / "file_commands"
        out.mkdir()
        for name in ("set_output", "step_summary"):
            (out / name).touch()
        env |= {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(root),
            "GITHUB_OUTPUT": str(out / "set_output"),
            "GITHUB_STEP_SUMMARY": str(out / "step_summary"),
            "INPUT_MODE": case.mode,
        }
        command = [sys.executable, str(REPO / "entrypoint.py")]
    process = _run(command, root, env, proxy, case.signal_at)
    for file in sorted(out.iterdir()):
        texts[f"{out.name}/{file.name}"] = file.read_text("utf-8")
    if case.cli:
        outputs = json.loads(texts["out/outputs.json"])
        decision, reason = str(outputs["decision"]), str(outputs["reason"])
    else:
        texts["GITHUB_STEP_SUMMARY"] = texts.pop("file_commands/step_summary")
        output_text = texts["file_commands/set_output"]
        decision = output_value(output_text, "decision")
        reason = output_value(output_text, "reason")
    stdout = "\n".join(
        line for line in process.stdout.splitlines() if not line.startswith("::add-mask::")
    )
    texts |= {"stdout": stdout, "stderr": process.stderr} | audit_logs(root)
    texts |= {
        f"webhook {n}": body.decode("utf-8", "replace") for n, body in enumerate(receiver.bodies)
    }
    texts |= {f"webhook headers {n}": repr(h) for n, h in enumerate(receiver.headers)}
    return Ran(
        case,
        process.returncode,
        process.stdout,
        process.stderr,
        texts,
        decision,
        reason,
        [*emulator.issued_tokens(), *proxy.tokens],
        emulator,
    )


def _run(
    command: list[str], root: Path, env: dict[str, str], proxy: HostileProxy, signal_at: str | None
) -> subprocess.CompletedProcess[str]:
    """The run, with a real SIGTERM once the request `signal_at` names reached the proxy."""
    if signal_at is None:
        return subprocess.run(
            command, cwd=root, env=env, capture_output=True, text=True, timeout=90, check=False
        )
    with subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if any(r.path.split("?")[0].endswith(signal_at) for r in proxy.requests):
                process.send_signal(signal.SIGTERM)
                break
            time.sleep(0.01)
        stdout, stderr = process.communicate(timeout=30)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
