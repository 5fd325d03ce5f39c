package dev.pinfleet.controller.rollout;

import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.StatusRequest;
import dev.pinfleet.proto.v1.StatusResponse;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "status", description = "Ask every agent of the inventory what it runs: per app the current release, serial and last outcome.")
public final class StatusCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = {"-i", "--inventory"}, required = true, paramLabel = "FILE", description = "Ansible INI inventory.")
    Path inventory;

    @Option(names = {"-g", "--group"}, defaultValue = "all", description = "Inventory group (default: ${DEFAULT-VALUE}).")
    String group;

    @Option(names = "--app", description = "Only this app.")
    String app;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        String fmt = "%-14s %-12s %8s  %-16s  %-9s  %s%n";
        out.printf(fmt, "NODE", "APP", "SERIAL", "RELEASE", "LAST", "ERROR");
        int unreachable = 0;
        for (Node n : Inventory.read(inventory).nodes(group)) {
            ManagedChannel ch = AgentClient.open(n);
            try {
                StatusResponse s = AgentServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .status(StatusRequest.newBuilder().setApp(app == null ? "" : app).build());
                if (s.getAppsCount() == 0) {
                    out.printf(fmt, n.name(), "-", "-", "-", "-", "");
                }
                for (AppStatus a : s.getAppsList()) {
                    out.printf(fmt, n.name(), a.getApp(), a.getSerial(), a.getRelease(),
                            a.getLastOutcome().name().toLowerCase(), a.getLastError());
                }
            } catch (StatusRuntimeException e) {
                unreachable++;
                out.printf(fmt, n.name(), "-", "-", "-", "UNREACHABLE", n.address() + ": " + e.getStatus().getCode());
            } finally {
                AgentClient.close(ch);
            }
        }
        out.flush();
        return unreachable == 0 ? 0 : 1;
    }
}
