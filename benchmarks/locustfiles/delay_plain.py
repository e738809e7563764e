"""Plain Locust, no recorder: the baseline of the recorder-cost benchmark."""

from locust import FastHttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def _options(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--delay-ms", type=int, default=20, help="delay asked of /delay")


class DelayUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def delay(self) -> None:
        self.client.get(f"/delay?ms={self.environment.parsed_options.delay_ms}", name="/delay")
