#!/usr/bin/env python3
"""demo.py: ftune's main job, end to end, as a user runs it with the official openai SDK.

Starts `ftune serve` on a temporary data directory, validates and uploads the support-triage
training set, fine-tunes SmolLM2-135M-Instruct with default settings while printing the job's
progress, fine-tunes a second time on the same data with retrieved examples as context (`ftune
dataset add-context`), then runs `ftune eval` on the held-out validation set with every alternative
served by the same server: the base model with the bloated baseline prompt, the same with its answer
constrained to the training file's labels (structured output), the base model with the 3 most
similar training examples before each ticket (retrieved few-shot), the fine-tuned model with the
short system message, and the second fine-tuned model with the same retrieval. Prints the comparison and leaves an HTML report.

Data: ../shared/data/support-triage when present, else rebuilt from BANKING77's public training
split by scripts/make_support_triage.py (see that folder's README)."""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import openai

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FTUNE = os.path.join(ROOT, "build", "ftune")
BASE_MODEL = "SmolLM2-135M-Instruct.Q4_1"


def log(msg):
    print(msg, flush=True)


def dataset_dir(out_dir):
    shared = os.path.join(ROOT, "..", "shared", "data", "support-triage")
    if os.path.exists(os.path.join(shared, "train.jsonl")):
        return os.path.normpath(shared)
    built = os.path.join(out_dir, "support-triage")
    if not os.path.exists(os.path.join(built, "train.jsonl")):
        log("../shared is not here: building the dataset from BANKING77's training split")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_support_triage.py"), built], check=True)
    return built


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir, port, log_path):
    logf = open(log_path, "w")
    proc = subprocess.Popen([FTUNE, "serve", "--port", str(port), "--data", data_dir, "--models",
                             os.path.join(ROOT, "models")], stdout=logf, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"demo: the server did not start; its log:\n{open(log_path).read()}")


def follow_job(client, job_id):
    """Polls the job like a user would, printing its events as they arrive."""
    seen, last_metrics = set(), 0.0
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        events = list(client.fine_tuning.jobs.list_events(job_id, limit=100))
        for e in reversed(events):
            if e.id in seen:
                continue
            seen.add(e.id)
            if e.type == "metrics":
                # one progress line every few seconds, and the last step
                d = e.data or {}
                if time.time() - last_metrics > 10 or d.get("step") == d.get("total_steps"):
                    last_metrics = time.time()
                    eta = ""
                    if job.estimated_finish:
                        eta = f", about {max(0, job.estimated_finish - int(time.time()))} s left"
                    log(f"  {e.message}{eta}")
            else:
                log(f"  {e.message}")
        if job.status in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "demo"), help="where the report goes")
    ap.add_argument("--limit", type=int, default=0, help="evaluate only the first N held-out examples")
    args = ap.parse_args()
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)
    data = dataset_dir(args.out)
    train = os.path.join(data, "train.jsonl")
    valid = os.path.join(data, "validation.jsonl")
    baseline_prompt = os.path.join(data, "baseline_system_prompt.txt")
    model_path = os.path.join(ROOT, "models", BASE_MODEL + ".gguf")

    log(f"1. validate {train}")
    subprocess.run([FTUNE, "validate", train, "--model", model_path], check=True)

    server_data = tempfile.mkdtemp(prefix="ftune-demo-")
    port = free_port()
    proc = start_server(server_data, port, os.path.join(args.out, "serve.log"))
    base_url = f"http://127.0.0.1:{port}/v1"
    log(f"2. ftune serve on {base_url} (data in {server_data})")
    try:
        client = openai.OpenAI(base_url=base_url, api_key="demo")
        f = client.files.create(file=open(train, "rb"), purpose="fine-tune")
        client.files.wait_for_processing(f.id)
        log(f"3. uploaded {f.filename}: {f.id} ({f.bytes} bytes)")
        job = client.fine_tuning.jobs.create(training_file=f.id, model=BASE_MODEL, suffix="support-triage")
        log(f"4. fine-tuning job {job.id} on {BASE_MODEL}, default hyperparameters")
        t_train = time.time()
        job = follow_job(client, job.id)
        if job.status != "succeeded":
            sys.exit(f"demo: the job ended {job.status}: {job.error}")
        hp = job.hyperparameters
        log(f"   {job.fine_tuned_model}: {hp.n_epochs} epochs, batch size {hp.batch_size}, learning rate "
            f"multiplier {hp.learning_rate_multiplier}, {job.trained_tokens} trained tokens, "
            f"{time.time() - t_train:.0f} s")

        # fine-tuned + retrieval: the same data with each example's 3 most similar training examples
        # before it (their answers not trained), then evaluated with the same retrieval
        train_ctx = os.path.join(args.out, "train_with_context.jsonl")
        log(f"4b. ftune dataset add-context: {train_ctx} (3 retrieved examples each), fine-tuned the same way")
        subprocess.run([FTUNE, "dataset", "add-context", "--pool", train, "--in", train, "--out", train_ctx, "--k", "3"],
                       check=True)
        f_ctx = client.files.create(file=open(train_ctx, "rb"), purpose="fine-tune")
        client.files.wait_for_processing(f_ctx.id)
        t_train = time.time()
        job_ctx = follow_job(client, client.fine_tuning.jobs.create(training_file=f_ctx.id, model=BASE_MODEL,
                                                                    suffix="support-triage-rag").id)
        if job_ctx.status != "succeeded":
            sys.exit(f"demo: the job ended {job_ctx.status}: {job_ctx.error}")
        log(f"   {job_ctx.fine_tuned_model}: {job_ctx.trained_tokens} trained tokens, {time.time() - t_train:.0f} s")

        log(f"5. ftune eval on {valid}: base model + long prompt, the same constrained to the training labels "
            f"(structured output), base model + 3 retrieved examples, fine-tuned, fine-tuned + retrieval")
        report_json = os.path.join(args.out, "report.json")
        report_html = os.path.join(args.out, "report.html")
        cmd = [FTUNE, "eval", "--data", valid,
               "--candidate", "base + long prompt", "--model", BASE_MODEL, "--base-url", base_url,
               "--system-file", baseline_prompt,
               "--candidate", "base + long prompt + structured output", "--model", BASE_MODEL, "--base-url", base_url,
               "--system-file", baseline_prompt, "--labels", train,
               "--candidate", "base + retrieved few-shot", "--model", BASE_MODEL, "--base-url", base_url,
               "--retrieve", train,
               "--candidate", "fine-tuned", "--model", job.fine_tuned_model, "--base-url", base_url,
               "--candidate", "fine-tuned + retrieval", "--model", job_ctx.fine_tuned_model, "--base-url", base_url,
               "--retrieve", train,
               "--json", report_json, "--html", report_html]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        subprocess.run(cmd, check=True)
        log(f"\nreport: {report_html}\ndemo done in {time.time() - t0:.0f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(server_data, ignore_errors=True)


if __name__ == "__main__":
    main()
