import AccountStore

// MUSTs of an organization's two-factor requirement (docs/product.md, "Two-factor states": `off` is
// "password only (unless the organization requires 2FA: then `pending`)"):
// - no member of an organization that requires 2FA logs in with its password alone: a login, and a code check,
//   take such a member left `off` (a race with `org set --require-2fa`, a restore, a copy, an older daemon) for
//   `pending`, so that its next login enrolls;
// - the account itself never turns off (nor removes the last of) a second factor its organization requires;
// - an admin or operator who turns it off, or removes the last authenticator, leaves the account `pending`,
//   never `off`.

/// The two-factor requirement an organization puts on its members, as pure values.
public enum OrganizationRequirement {
    /// Whether `organization` requires two-factor authentication of `account`: only the account's own
    /// organization counts (nil: none read, nothing required).
    public static func requiresTwoFactor(of account: Account, in organization: Organization?) -> Bool {
        guard let organization, organization.name == account.organization else { return false }
        return organization.requiresTwoFactor
    }

    /// The state a login decides on: `off` is `pending` while the organization requires 2FA.
    public static func effectiveState(of account: Account, in organization: Organization?) -> TwoFactorState {
        account.twoFactor == .off && requiresTwoFactor(of: account, in: organization) ? .pending : account.twoFactor
    }

    /// The state an account is left in when its second factor is turned off or its last authenticator removed:
    /// `pending` while the organization requires 2FA, else `off`.
    public static func stateWithoutSecondFactor(of account: Account, in organization: Organization?) -> TwoFactorState {
        requiresTwoFactor(of: account, in: organization) ? .pending : .off
    }

    /// Why the account itself may not turn off a second factor its organization requires.
    public static func refusalToTurnOff(_ account: Account) -> String {
        "'\(account.organization)' requires two-factor authentication of its members, so '\(account.name)' "
            + "cannot turn it off: ask an admin of '\(account.organization)' or an operator"
    }
}
