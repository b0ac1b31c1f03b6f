import { test } from "node:test";
import assert from "node:assert/strict";
import { InFlightRequest, InFlightRequests } from "./in-flight.ts";

class Probe extends InFlightRequest {
  expired = 0;
  expire(): void {
    this.expired++;
  }
}

test("counts requests through adds and removals in any order, removing twice harmlessly", () => {
  const requests = new InFlightRequests(0);
  const [first, second, third] = [new Probe(), new Probe(), new Probe()];
  requests.add(first);
  requests.add(second);
  requests.add(third);
  assert.equal(requests.size, 3);
  requests.delete(second);
  requests.delete(second);
  assert.equal(requests.size, 2);
  requests.delete(first);
  requests.delete(third);
  assert.equal(requests.size, 0);
  requests.add(second);
  assert.equal(requests.size, 1);
  requests.close();
});

test("expires only the requests older than the write timeout", async () => {
  const requests = new InFlightRequests(20);
  const old = new Probe();
  (old as { started: number }).started = Date.now() - 1000;
  const fresh = new Probe();
  (fresh as { started: number }).started = Date.now() + 60_000;
  requests.add(old);
  requests.add(fresh);
  while (old.expired === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(fresh.expired, 0);
  requests.close();
});
