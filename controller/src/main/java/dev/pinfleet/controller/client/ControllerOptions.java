package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Which controller a command talks to: {@code --controller HOST:PORT[,HOST:PORT…]} (or {@code PINFLEET_CONTROLLER}) with the
 * operator's certificate of the fleet CA ({@code --operator-cert/--operator-key/--controller-ca}, or
 * {@code PINFLEET_OPERATOR_CERT}, {@code PINFLEET_OPERATOR_KEY}, {@code PINFLEET_CONTROLLER_CA}); without an address,
 * the embedded controller on {@code .pinfleet/records.db}, found from the working directory upwards.
 */
public final class ControllerOptions {
    @Option(names = "--controller", paramLabel = "HOST:PORT[,HOST:PORT]", description = {
        "The controller service to use (default: PINFLEET_CONTROLLER; none: the embedded controller on",
        ".pinfleet/records.db found from the current directory upwards, created here on first use).",
        "Several (an active and a standby controller on one PostgreSQL): tried in order; a write the standby",
        "refuses goes to the active controller it names."})
    String address;

    @Option(names = "--operator-cert", paramLabel = "PEM", description = "Your certificate, role operator (default: PINFLEET_OPERATOR_CERT).")
    Path operatorCert;

    @Option(names = "--operator-key", paramLabel = "PEM", description = "Its private key (default: PINFLEET_OPERATOR_KEY).")
    Path operatorKey;

    @Option(names = "--controller-ca", paramLabel = "PEM", description = "Fleet CA the controller's certificate chains to (default: PINFLEET_CONTROLLER_CA).")
    Path controllerCa;

    /** The controller's address (or several, comma-separated), or null for the embedded controller. */
    String address(CliContext ctx) {
        return address != null ? address : ctx.var("PINFLEET_CONTROLLER");
    }

    Path operatorCert(CliContext ctx) {
        return operatorCert != null ? operatorCert : path(ctx.var("PINFLEET_OPERATOR_CERT"));
    }

    Path operatorKey(CliContext ctx) {
        return operatorKey != null ? operatorKey : path(ctx.var("PINFLEET_OPERATOR_KEY"));
    }

    Path controllerCa(CliContext ctx) {
        return controllerCa != null ? controllerCa : path(ctx.var("PINFLEET_CONTROLLER_CA"));
    }

    private static Path path(String s) {
        return s == null ? null : Path.of(s);
    }
}
