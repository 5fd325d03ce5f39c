package dev.pinfleet.controller.config;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.proto.v1.AppConfig;
import dev.pinfleet.proto.v1.ArchiveConfig;
import dev.pinfleet.proto.v1.EffectiveConfig;
import dev.pinfleet.proto.v1.Setting;
import java.io.PrintWriter;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pinfleet config}: the effective settings and where each came from. */
@Command(name = ConfigCommand.NAME, description = {
    "Print the effective settings and where each came from, and each app's spec in pinfleet.yml.",
    "",
    "Every option of every command (its longest name without the dashes is its key: --max-failures is "
    + "max-failures) takes its value from, in this order: the flag; the variable PINFLEET_KEY (PINFLEET_MAX_FAILURES); "
    + "pinfleet.yml, in the section of the app the command works on (apps: NAME:), then at the top level; the "
    + "option's default. The file is 'pinfleet -c FILE', else PINFLEET_CONFIG, else pinfleet.yml found from the "
    + "current directory upwards. Relative paths in it are relative to the file. The app is --app, else PINFLEET_APP, "
    + "else the file's 'app' key, else its only app. An app's spec (requirements, archives, post-switch-hook, "
    + "health-check) is what 'pinfleet freeze' builds the manifest from. An unknown key or a wrong type is an error "
    + "naming file:line."})
public final class ConfigCommand implements Callable<Integer> {
    /** The command's name; its own options are not settings. */
    public static final String NAME = "config";

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Spec CommandSpec spec;

    @Option(names = "--json", description = "Print one JSON object (EffectiveConfig in config.proto).")
    boolean json;

    @Option(names = "--all", description = "Also list every option left at its default.")
    boolean all;

    @Option(names = "--keys", description = "List every key the file and the variables may set, with its commands.")
    boolean keys;

    @Option(names = "--app", paramLabel = "APP", description = "Show the settings as commands on this app take them.")
    String app;

    @Override
    public Integer call() {
        if (!(spec.defaultValueProvider() instanceof Settings settings)) {
            throw new CliException("no settings provider: run config through the pinfleet command");
        }
        PrintWriter out = spec.commandLine().getOut();
        OptionCatalog catalog = settings.catalog();
        if (keys) {
            for (String k : catalog.keys()) {
                out.printf("%-22s %-28s %s%n", k, OptionCatalog.variable(k), String.join(", ", catalog.commands(k)));
            }
            out.flush();
            return 0;
        }
        EffectiveConfig config = effective(settings, app != null ? app : settings.defaultApp(), all);
        if (json) {
            out.println(ProtoJson.pretty(config));
        } else {
            print(out, config);
        }
        out.flush();
        return 0;
    }

    static EffectiveConfig effective(Settings settings, String app, boolean withDefaults) {
        EffectiveConfig.Builder c = EffectiveConfig.newBuilder().setFoundBy(settings.foundBy())
                .setApp(app == null ? "" : app);
        settings.file().ifPresent(f -> {
            c.setFile(f.path().toAbsolutePath().normalize().toString());
            f.apps().values().forEach(a -> c.addApps(app(a)));
        });
        OptionCatalog catalog = settings.catalog();
        for (String key : catalog.keys()) {
            Settings.Resolved r = settings.resolve(key, app);
            List<OptionSpec> options = catalog.options(key);
            if (r != null) {
                c.addSettings(Setting.newBuilder().setKey(key).setValue(r.valueFor(options.get(0))).setOrigin(r.origin())
                        .addAllCommands(catalog.commands(key)));
            } else if (withDefaults) {
                Set<String> defaults = new LinkedHashSet<>();
                options.forEach(o -> defaults.add(o.defaultValue() == null ? "" : o.defaultValue()));
                c.addSettings(Setting.newBuilder().setKey(key).setValue(String.join(" | ", defaults)).setOrigin("default")
                        .addAllCommands(catalog.commands(key)));
            }
        }
        return c.build();
    }

    private static AppConfig app(AppSpec a) {
        AppConfig.Builder b = AppConfig.newBuilder().setName(a.name())
                .setRequirements(a.requirements() == null ? "" : a.requirements().toString());
        for (AppSpec.Archive x : a.archives()) {
            b.addArchives(ArchiveConfig.newBuilder().setName(x.name()).setPath(x.path().toString())
                    .setInstallPath(x.installPath()));
        }
        if (a.hook() != null) {
            b.setPostSwitchHook(a.hook());
        }
        if (a.health() != null) {
            b.setHealthCheck(a.health());
        }
        return b.build();
    }

    private static void print(PrintWriter out, EffectiveConfig c) {
        out.println("config file: " + (c.getFile().isEmpty() ? "(none)" : c.getFile() + " (" + c.getFoundBy() + ")"));
        if (c.getFile().isEmpty()) {
            out.println("  " + c.getFoundBy());
        }
        out.println("app: " + (c.getApp().isEmpty() ? "(none)" : c.getApp()));
        if (c.getSettingsCount() > 0) {
            int kw = c.getSettingsList().stream().mapToInt(s -> s.getKey().length()).max().orElse(3);
            int vw = Math.min(60, c.getSettingsList().stream().mapToInt(s -> s.getValue().length()).max().orElse(5));
            out.printf("%-" + kw + "s  %-" + vw + "s  %s%n", "KEY", "VALUE", "FROM");
            for (Setting s : c.getSettingsList()) {
                out.printf("%-" + kw + "s  %-" + vw + "s  %s%n", s.getKey(), s.getValue(), s.getOrigin());
            }
        } else {
            out.println("no setting is given by a variable or the file (--all lists the defaults)");
        }
        for (AppConfig a : c.getAppsList()) {
            out.println("app " + a.getName() + ":");
            out.println("  requirements: " + (a.getRequirements().isEmpty() ? "(none)" : a.getRequirements()));
            for (ArchiveConfig x : a.getArchivesList()) {
                out.println("  archive " + x.getName() + ": " + x.getPath() + " -> " + x.getInstallPath());
            }
            if (a.hasPostSwitchHook()) {
                out.println("  post-switch hook: " + a.getPostSwitchHook().getArgvList() + ", timeout "
                        + a.getPostSwitchHook().getTimeoutSeconds() + " s");
            }
            if (a.hasHealthCheck()) {
                var h = a.getHealthCheck();
                out.println("  health check: " + (h.getHttpUrl().isEmpty() ? h.getCommand().getArgvList() : h.getHttpUrl())
                        + ", timeout " + h.getTimeoutSeconds() + " s, " + h.getRetries() + " retries every "
                        + h.getIntervalMs() + " ms");
            }
        }
    }
}
