package dev.pinfleet.controller.config;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.CliException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Where every option's value comes from when its flag is not given: the {@code PINFLEET_*} variable, else
 * {@code pinfleet.yml} (the app's section, then the top level), else the option's own default. picocli asks this
 * provider after parsing a command's arguments, for each option not on the command line.
 *
 * <p>The file is {@code pinfleet -c FILE}, else {@code PINFLEET_CONFIG}, else {@code pinfleet.yml} found from the
 * working directory upwards (as git finds {@code .git}); none is fine. It is read once, at the first question.
 * The app whose section applies is the command's {@code --app}, else {@code PINFLEET_APP}, else the file's
 * top-level {@code app}, else its only app.
 */
public final class Settings implements CommandLine.IDefaultValueProvider {
    /** The variable naming the file. */
    public static final String CONFIG_VARIABLE = "PINFLEET_CONFIG";

    /** The key naming the app a command works on. */
    static final String APP = "app";

    private final CliContext ctx;
    private final Supplier<Path> explicit;
    private OptionCatalog catalog;
    private Found found;
    private ConfigFile file;

    /**
     * @param ctx      the working directory and environment
     * @param explicit the file given with {@code -c}, or null (asked when the file is first needed)
     */
    public Settings(CliContext ctx, Supplier<Path> explicit) {
        this.ctx = ctx;
        this.explicit = explicit;
    }

    /** Sets the options served, once the command tree is built. */
    public void catalog(OptionCatalog c) {
        this.catalog = c;
    }

    public OptionCatalog catalog() {
        return catalog;
    }

    /**
     * A setting's value and where it came from.
     *
     * @param key    its key
     * @param text   the value as written
     * @param origin {@code PINFLEET_X}, or {@code FILE:LINE (key path)}
     * @param base   the directory relative paths are resolved against (the file's), or null for a variable
     */
    public record Resolved(String key, String text, String origin, Path base) {
        /** The value for {@code o}: a relative path of the file made absolute. */
        public String valueFor(OptionSpec o) {
            if (base == null || !OptionCatalog.isPath(o) || text.contains("://") || Path.of(text).isAbsolute()) {
                return text;
            }
            return base.resolve(text).normalize().toString();
        }
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (!(arg instanceof OptionSpec o) || catalog == null || !catalog.serves(o)) {
            return null;
        }
        Resolved r = resolve(OptionCatalog.key(o), app(o.command()));
        if (r == null) {
            return null;
        }
        if (!OptionCatalog.fits(o, r.text())) {
            throw new CliException(r.origin() + ": '" + r.text() + "' does not suit "
                    + o.command().qualifiedName(" ") + " " + o.longestName() + ", which takes " + OptionCatalog.expected(o));
        }
        return r.valueFor(o);
    }

    /** {@code key}'s value from the environment or the file for {@code app} (may be null), or null. */
    public Resolved resolve(String key, String app) {
        String variable = OptionCatalog.variable(key);
        String v = ctx.var(variable);
        if (v != null) {
            return new Resolved(key, v, variable, null);
        }
        Optional<ConfigFile> f = file();
        if (f.isEmpty()) {
            return null;
        }
        ConfigFile.Value value = null;
        AppSpec spec = app == null ? null : f.get().apps().get(app);
        if (spec != null) {
            value = spec.settings().get(key);
        }
        if (value == null) {
            value = f.get().settings().get(key);
        }
        if (value == null && key.equals(APP) && f.get().apps().size() == 1) {
            String only = f.get().apps().keySet().iterator().next();
            return new Resolved(key, only, f.get().path() + " (its only app)", null);
        }
        return value == null ? null : new Resolved(key, value.text(),
                f.get().path() + ":" + value.line() + " (" + value.where() + ")", f.get().dir());
    }

    /** The app whose section applies to {@code command}, or null. */
    public String app(CommandSpec command) {
        OptionSpec appOption = command == null ? null : command.findOption("--app");
        if (appOption != null && appOption.getValue() instanceof String s && !s.isBlank()) {
            return s;
        }
        return defaultApp();
    }

    /** {@code PINFLEET_APP}, else the file's top-level {@code app}, else its only app, else null. */
    public String defaultApp() {
        String v = ctx.var(OptionCatalog.variable(APP));
        if (v != null) {
            return v;
        }
        Optional<ConfigFile> f = file();
        if (f.isEmpty()) {
            return null;
        }
        ConfigFile.Value app = f.get().settings().get(APP);
        if (app != null) {
            return app.text();
        }
        return f.get().apps().size() == 1 ? f.get().apps().keySet().iterator().next() : null;
    }

    /** The spec of {@code app} in the file, if any. */
    public Optional<AppSpec> spec(String app) {
        return app == null ? Optional.empty() : file().map(f -> f.apps().get(app));
    }

    /** The file in force, read and checked at the first call; empty when there is none. */
    public Optional<ConfigFile> file() {
        if (found == null) {
            found = locate();
            if (found.path() != null) {
                file = ConfigFile.read(found.path(), catalog);
            }
        }
        return Optional.ofNullable(file);
    }

    /** How the file was found: "-c", "PINFLEET_CONFIG", "found from DIR upwards", or "none". */
    public String foundBy() {
        file();
        return found.how();
    }

    private record Found(Path path, String how) {}

    private Found locate() {
        Path c = explicit.get();
        if (c != null) {
            return new Found(ctx.workingDirectory().resolve(c), "-c");
        }
        String v = ctx.var(CONFIG_VARIABLE);
        if (v != null) {
            return new Found(ctx.workingDirectory().resolve(v), CONFIG_VARIABLE);
        }
        for (Path d = ctx.workingDirectory().toAbsolutePath(); d != null; d = d.getParent()) {
            Path f = d.resolve(ConfigFile.NAME);
            if (Files.isRegularFile(f)) {
                return new Found(f, "found from " + ctx.workingDirectory() + " upwards");
            }
        }
        return new Found(null, "none: no " + ConfigFile.NAME + " in " + ctx.workingDirectory() + " or above, no -c, no "
                + CONFIG_VARIABLE);
    }
}
