package dev.pinfleet.agent.testing;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reading the project's Ansible role files in the tests that keep a role and its service in step. */
public final class AnsibleRoles {
    private static final Pattern SCALAR = Pattern.compile("(?m)^([a-z_]+):[ ]*(.*)$");

    private AnsibleRoles() {
    }

    /** Top-level {@code name: value} lines of a YAML file (values as written, quotes removed). */
    public static Map<String, String> yamlScalars(String text) {
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m = SCALAR.matcher(text);
        while (m.find()) {
            out.put(m.group(1), m.group(2).strip().replaceAll("^\"(.*)\"$", "$1"));
        }
        return out;
    }
}
