"""The web console in headless Chromium against `lockgate up` (a Python function that fails
on request, a queue with a dead-letter queue, and a queue nothing consumes), with boto3 beside
the page to check what the page did and did not change, and /metrics read by the Prometheus
project's own parser. Screenshots of each page go to target/console-screenshots/."""

import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("LOCKGATE_BIN", os.path.join(ROOT, "target", "debug", "lockgate"))
SHOTS = os.path.join(ROOT, "target", "console-screenshots")
WAIT = 90  # seconds: generous for a loaded two-core machine

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Work:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work
      VisibilityTimeout: 3
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDlq.Arn
        maxReceiveCount: 1
  WorkDlq:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work-dlq
  Parked:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: parked
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: worker
      Runtime: python3.12
      Handler: app.handler
      CodeUri: worker/
      Timeout: 3
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 1
"""

HANDLER = """\
def handler(event, context):
    for record in event["Records"]:
        print(f"processing {record['body']}", flush=True)
        if "fail" in record["body"]:
            raise ValueError(f"cannot process {record['body']}")
    return {"batchItemFailures": []}
"""


class Up:
    """`lockgate up` on the test's template, on an ephemeral port, in memory."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        os.makedirs(os.path.join(self.dir.name, "worker"))
        with open(os.path.join(self.dir.name, "template.yaml"), "w") as f:
            f.write(TEMPLATE)
        with open(os.path.join(self.dir.name, "worker", "app.py"), "w") as f:
            f.write(HANDLER)
        env = dict(os.environ, NO_COLOR="1", LOCKGATE_PYTHON_BOOTSTRAP="builtin")
        env.pop("AWS_ENDPOINT_URL_SQS", None)
        self.process = subprocess.Popen(
            [BINARY, "up", "--template", os.path.join(self.dir.name, "template.yaml"),
             "--bind", "127.0.0.1:0", "--in-memory"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines = []
        self.endpoint = self.console = None
        for line in self.process.stderr:
            self.lines.append(line)
            if "SQS emulator ready on " in line:
                self.endpoint = line.split("ready on ")[1].split()[0]
            if "console: " in line:
                self.console = line.split("console: ")[1].split()[0]
                break
        if not self.console:
            raise RuntimeError("lockgate up did not start:\n" + "".join(self.lines))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.process.stderr:
            self.lines.append(line)

    def sqs(self):
        return boto3.client(
            "sqs", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 1}),
        )

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=120)
        self.dir.cleanup()


@pytest.fixture(scope="module")
def up():
    app = Up()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
        options.add_argument(arg)
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    os.makedirs(SHOTS, exist_ok=True)
    yield driver
    driver.quit()


def wait(driver, condition, what):
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(condition)
    except Exception:
        driver.save_screenshot(os.path.join(SHOTS, "failed.png"))
        raise AssertionError(f"timed out waiting for {what}; page text:\n{driver.find_element(By.TAG_NAME, 'body').text}")


def text_of(driver, css):
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def queue_url(sqs, name):
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def test_the_queue_list_shows_the_templates_queues(up, browser):
    browser.get(up.console)
    wait(browser, lambda d: {"work", "work-dlq", "parked"} <= set(text_of(d, "a.queue-link")), "the queues")
    row = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#mapping-table tr[data-function=worker]"), "the mapping")[0]
    # Running / target / maximum concurrency (Lambda's 1,250 without MaximumConcurrency).
    assert re.search(r"\b\d+ / \d+ / 1250\b", row.text), row.text
    browser.save_screenshot(os.path.join(SHOTS, "queues.png"))


def test_a_message_is_shown_without_being_consumed(up, browser):
    sqs = up.sqs()
    url = queue_url(sqs, "parked")
    sqs.send_message(QueueUrl=url, MessageBody='{"order": 42}',
                     MessageAttributes={"source": {"DataType": "String", "StringValue": "web"}})
    # A body that would run script if the page put it in as HTML.
    sqs.send_message(QueueUrl=url, MessageBody='<img src=x onerror="document.title=\'pwned\'">')
    browser.get(up.console + "#/queue/us-east-1/000000000000/parked")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.message")) == 2, "two messages")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.message")
    assert rows[0].find_element(By.CSS_SELECTOR, "pre.body").text == '{"order": 42}'
    assert "source (String): web" in rows[0].text
    assert [r.find_element(By.CSS_SELECTOR, ".receive-count").text for r in rows] == ["0", "0"]
    assert rows[1].find_element(By.CSS_SELECTOR, "pre.body").text.startswith("<img src=x")
    assert browser.title != "pwned"
    attributes = browser.find_element(By.ID, "attributes").text
    assert "VisibilityTimeout" in attributes and "object" not in attributes
    assert not browser.find_elements(By.CSS_SELECTOR, "pre.body img")
    browser.save_screenshot(os.path.join(SHOTS, "queue.png"))
    # The page has browsed the queue many times by now: still visible, never received.
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "2"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                              MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert sorted(m["Attributes"]["ApproximateReceiveCount"] for m in got) == ["1", "1"]
    sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(got)])


def test_send_and_purge_from_the_page(up, browser):
    sqs = up.sqs()
    url = queue_url(sqs, "parked")
    browser.get(up.console + "#/queue/us-east-1/000000000000/parked")
    box = wait(browser, EC.presence_of_element_located((By.ID, "send-body")), "the send form")
    box.send_keys("sent from the console")
    browser.find_element(By.ID, "send").click()
    wait(browser, lambda d: "Sent message" in d.find_element(By.ID, "feedback").text, "the send to be confirmed")
    wait(browser, lambda d: "sent from the console" in text_of(d, "pre.body"), "the sent message in the list")
    bodies = [m["Body"] for m in peek_all(sqs, url)]
    assert "sent from the console" in bodies
    browser.find_element(By.ID, "purge").click()
    browser.switch_to.alert.accept()
    wait(browser, lambda d: d.find_elements(By.ID, "no-messages"), "the queue to be empty")
    browser.save_screenshot(os.path.join(SHOTS, "purged.png"))
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


def peek_all(sqs, url):
    """Receives everything and makes it visible again at once."""
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    if got:
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(got)])
    return got


def test_a_failure_is_shown_with_its_log_line_and_the_dlq_redrives(up, browser):
    sqs = up.sqs()
    sqs.send_message(QueueUrl=queue_url(sqs, "work"), MessageBody="please fail")
    sqs.send_message(QueueUrl=queue_url(sqs, "work"), MessageBody="all good")
    browser.get(up.console + "#/function/worker")
    failure = wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".failure")), "a failure")
    wait(browser, lambda d: "processing please fail" in d.find_element(By.CSS_SELECTOR, ".failure").text,
         "the failure's log line")
    assert "ValueError" in failure.text and "cannot process please fail" in failure.text
    wait(browser, lambda d: "processing all good" in d.find_element(By.ID, "log").text, "the live log")
    browser.save_screenshot(os.path.join(SHOTS, "function.png"))

    dlq = queue_url(sqs, "work-dlq")
    browser.get(up.console + "#/queue/us-east-1/000000000000/work-dlq")
    wait(browser, lambda d: "please fail" in text_of(d, "pre.body"), "the message in the dead-letter queue")
    browser.find_element(By.ID, "redrive").click()
    wait(browser, lambda d: "COMPLETED" in text_of(d, "#move-tasks .task-status"), "the move task to complete")
    assert text_of(browser, "#move-tasks .task-moved")[0] == "1"
    browser.save_screenshot(os.path.join(SHOTS, "redrive.png"))
    tasks = sqs.list_message_move_tasks(SourceArn=sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])["Results"]
    assert tasks[0]["Status"] == "COMPLETED" and tasks[0]["ApproximateNumberOfMessagesMoved"] == 1


def scrape(up):
    with urllib.request.urlopen(up.endpoint + "/metrics", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_match_what_was_sent(up):
    sqs = up.sqs()
    url = sqs.create_queue(QueueName="metered")["QueueUrl"]
    for i in range(7):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    q = dict(queue="metered", region="us-east-1", account="000000000000")
    samples = scrape(up)
    assert value(samples, "lockgate_queue_messages_sent_total", **q) == 7
    assert value(samples, "lockgate_queue_messages_received_total", **q) == len(got)
    assert value(samples, "lockgate_queue_messages_deleted_total", **q) == len(got)
    assert value(samples, "lockgate_queue_messages_visible", **q) == 7 - len(got)
    assert value(samples, "process_resident_memory_bytes") > 0
    assert value(samples, "lockgate_store_commit_seconds_count") == 0  # in memory: no commits

    # The worker's mapping, on messages of this test's own: one the worker processes, one it
    # fails. Scraped until both invocations have finished (every finished invocation is in the
    # histogram); counters are compared with what they were before.
    m = dict(function="worker", queue="work")
    before = {name: value(samples, name, **m) or 0 for name in (
        "lockgate_function_invocations_total", "lockgate_function_errors_total",
        "lockgate_mapping_messages_succeeded_total")}
    work = queue_url(sqs, "work")
    sqs.send_message(QueueUrl=work, MessageBody="metered ok")
    sqs.send_message(QueueUrl=work, MessageBody="metered fail")
    deadline = time.monotonic() + WAIT
    while True:
        samples = scrape(up)
        invocations = value(samples, "lockgate_function_invocations_total", **m) or 0
        finished = value(samples, "lockgate_function_duration_seconds_count", **m)
        if (invocations - before["lockgate_function_invocations_total"] >= 2 and finished == invocations) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert invocations - before["lockgate_function_invocations_total"] >= 2
    assert finished == invocations
    assert value(samples, "lockgate_function_errors_total", **m) - before["lockgate_function_errors_total"] >= 1
    assert value(samples, "lockgate_mapping_messages_succeeded_total", **m) \
        - before["lockgate_mapping_messages_succeeded_total"] >= 1
    assert value(samples, "lockgate_function_concurrency", **m) is not None
    # The scaler's target: between the back-off floor (2) and the mapping's maximum.
    assert 2 <= value(samples, "lockgate_mapping_target_concurrency", **m) <= 1250


def test_health_is_ready(up):
    with urllib.request.urlopen(up.endpoint + "/health", timeout=30) as response:
        body = json.load(response)
    assert body["status"] == "ready" and body["store"] == {"kind": "memory", "state": "ok", "error": None}
