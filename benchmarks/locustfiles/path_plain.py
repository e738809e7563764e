"""Plain Locust, no recorder and no checks: one GET of --path, the baseline of capacity_fidelity."""

from locust import FastHttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def _options(parser) -> None:  # type: ignore[no-untyped-def]
    parser.add_argument("--path", default="/json", help="path to GET")


class PathUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        path = self.environment.parsed_options.path
        self.client.get(path, name=path)
