// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Pausable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Pausable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title GoldCoin
/// @notice Gold-backed token: one whole token (1e18 base units) stands for one gram of gold.
/// Supply grows only through `mint` by MINTER_ROLE and never past the latest attested reserve.
/// @dev Roles and what each may do:
/// - DEFAULT_ADMIN_ROLE administers every role below. It can also grant MINTER_ROLE, so in
///   production it belongs on a multisig with at least the mint quorum's strength.
/// - MINTER_ROLE mints. Deployments give it to the MintAuthority contract only.
/// - BURNER_ROLE (the redemption desk) burns from its own balance with `burn`, and from a
///   holder's balance with `burnFrom` when that holder approved the desk as an ERC-20 spender
///   (`approve` or `permit`). Holders without the role cannot burn at all.
/// - PAUSER_ROLE pauses and unpauses. While paused no transfer, mint or burn succeeds, but
///   `approve` and `permit` still work.
/// - COMPLIANCE_ROLE freezes and unfreezes accounts, and edits the allowlist when the
///   deployment has allowlist mode on.
/// - ATTESTOR_ROLE records reserve attestations.
/// A frozen account, and with allowlist mode on an account not on the allowlist, can neither
/// send nor receive. This covers mints to it, burns from it, and spending by it as an
/// approved spender.
contract GoldCoin is ERC20, ERC20Pausable, ERC20Permit, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant BURNER_ROLE = keccak256("BURNER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant COMPLIANCE_ROLE = keccak256("COMPLIANCE_ROLE");
    bytes32 public constant ATTESTOR_ROLE = keccak256("ATTESTOR_ROLE");

    /// @notice Reserve attestation as recorded on chain.
    /// @param reserve Gold held in custody, in token base units (1e18 = 1 gram).
    /// @param reportHash Hash of the off-chain audit or custody report backing the figure.
    /// @param asOf Unix time (seconds) at which the report counted the reserve.
    /// @param attestedAt Block timestamp of the attestation transaction.
    /// @param attestor Account that submitted the attestation.
    struct Attestation {
        uint256 reserve;
        bytes32 reportHash;
        uint64 asOf;
        uint64 attestedAt;
        address attestor;
    }

    /// @notice Whether only allowlisted accounts may send and receive; fixed at deployment.
    bool public immutable allowlistMode;

    mapping(address account => bool) private _frozen;
    mapping(address account => bool) private _allowlisted;
    Attestation[] private _attestations;

    event Frozen(address indexed account, address indexed by);
    event Unfrozen(address indexed account, address indexed by);
    event Allowlisted(address indexed account, address indexed by);
    event RemovedFromAllowlist(address indexed account, address indexed by);
    event ReserveAttested(
        uint256 indexed index,
        uint256 reserve,
        bytes32 reportHash,
        uint64 asOf,
        address indexed attestor
    );

    /// @notice A mint would take total supply above the latest attested reserve.
    error ReserveExceeded(uint256 supplyAfter, uint256 reserve);
    error AccountFrozen(address account);
    error NotAllowlisted(address account);
    error AllowlistModeOff();
    error ZeroAddress();
    error ZeroAmount();
    error AttestationNotFound(uint256 index, uint256 count);
    /// @notice An attestation must report a later `asOf` than the one before it.
    error StaleAttestation(uint64 asOf, uint64 latestAsOf);
    error AttestationFromFuture(uint64 asOf, uint256 blockTimestamp);

    /// @param name_ ERC-20 name; also the EIP-712 domain name used by `permit`.
    /// @param symbol_ ERC-20 symbol.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE.
    /// @param minter Holder of MINTER_ROLE, meant to be the MintAuthority contract.
    /// @param allowlistMode_ Whether transfers are limited to allowlisted accounts.
    constructor(
        string memory name_,
        string memory symbol_,
        address admin,
        address minter,
        address burner,
        address pauser,
        address compliance,
        address attestor,
        bool allowlistMode_
    ) ERC20(name_, symbol_) ERC20Permit(name_) {
        if (
            admin == address(0) ||
            minter == address(0) ||
            burner == address(0) ||
            pauser == address(0) ||
            compliance == address(0) ||
            attestor == address(0)
        ) {
            revert ZeroAddress();
        }
        allowlistMode = allowlistMode_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, minter);
        _grantRole(BURNER_ROLE, burner);
        _grantRole(PAUSER_ROLE, pauser);
        _grantRole(COMPLIANCE_ROLE, compliance);
        _grantRole(ATTESTOR_ROLE, attestor);
    }

    // ---------------------------------------------------------------- supply

    /// @notice Mint `amount` to `to`.
    /// @dev Reverts with ReserveExceeded when total supply after the mint would be above the
    /// latest attested reserve; with no attestation yet the reserve counts as zero.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        if (amount == 0) revert ZeroAmount();
        uint256 reserve = latestReserve();
        uint256 supply = totalSupply();
        if (amount > reserve || supply > reserve - amount) {
            revert ReserveExceeded(supply + amount, reserve);
        }
        _mint(to, amount);
    }

    /// @notice Burn `amount` from the caller's own balance.
    function burn(uint256 amount) external onlyRole(BURNER_ROLE) {
        if (amount == 0) revert ZeroAmount();
        _burn(_msgSender(), amount);
    }

    /// @notice Burn `amount` from `account`, spending the allowance `account` gave the caller.
    function burnFrom(address account, uint256 amount) external onlyRole(BURNER_ROLE) {
        if (amount == 0) revert ZeroAmount();
        _requireCanTransact(_msgSender());
        _spendAllowance(account, _msgSender(), amount);
        _burn(account, amount);
    }

    /// @inheritdoc ERC20
    /// @dev Also rejects a frozen or, in allowlist mode, non-allowlisted spender.
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _requireCanTransact(_msgSender());
        return super.transferFrom(from, to, value);
    }

    // ---------------------------------------------------------------- pause

    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- compliance

    /// @notice Freeze `account` so it can neither send nor receive. Freezing a frozen
    /// account changes nothing and emits no event.
    function freeze(address account) external onlyRole(COMPLIANCE_ROLE) {
        if (account == address(0)) revert ZeroAddress();
        if (!_frozen[account]) {
            _frozen[account] = true;
            emit Frozen(account, _msgSender());
        }
    }

    /// @notice Lift a freeze. Unfreezing an account that is not frozen changes nothing.
    function unfreeze(address account) external onlyRole(COMPLIANCE_ROLE) {
        if (_frozen[account]) {
            _frozen[account] = false;
            emit Unfrozen(account, _msgSender());
        }
    }

    /// @notice Add `account` to the allowlist. Reverts with AllowlistModeOff when this
    /// deployment does not enforce an allowlist.
    function addToAllowlist(address account) external onlyRole(COMPLIANCE_ROLE) {
        if (!allowlistMode) revert AllowlistModeOff();
        if (account == address(0)) revert ZeroAddress();
        if (!_allowlisted[account]) {
            _allowlisted[account] = true;
            emit Allowlisted(account, _msgSender());
        }
    }

    /// @notice Remove `account` from the allowlist.
    function removeFromAllowlist(address account) external onlyRole(COMPLIANCE_ROLE) {
        if (!allowlistMode) revert AllowlistModeOff();
        if (_allowlisted[account]) {
            _allowlisted[account] = false;
            emit RemovedFromAllowlist(account, _msgSender());
        }
    }

    function isFrozen(address account) external view returns (bool) {
        return _frozen[account];
    }

    /// @notice Whether `account` is on the allowlist; always false with allowlist mode off.
    function isAllowlisted(address account) external view returns (bool) {
        return _allowlisted[account];
    }

    /// @notice Whether `account` may currently send and receive tokens, ignoring pause.
    function canTransact(address account) public view returns (bool) {
        if (_frozen[account]) return false;
        return !allowlistMode || _allowlisted[account];
    }

    // ---------------------------------------------------------------- reserve

    /// @notice Record a reserve attestation and make it the mint cap.
    /// @param grams18 Gold in custody in token base units (1e18 = 1 gram).
    /// @param reportHash Hash of the report backing the figure.
    /// @param asOf Unix time of the count; must be later than the previous attestation's and
    /// not after the current block.
    /// @dev A reserve below the current supply is accepted, because it is a fact to record.
    /// It blocks further mints until the supply is back under the reserve.
    function attestReserve(uint256 grams18, bytes32 reportHash, uint64 asOf) external onlyRole(ATTESTOR_ROLE) {
        if (asOf > block.timestamp) revert AttestationFromFuture(asOf, block.timestamp);
        uint256 count = _attestations.length;
        if (count > 0) {
            uint64 latestAsOf = _attestations[count - 1].asOf;
            if (asOf <= latestAsOf) revert StaleAttestation(asOf, latestAsOf);
        }
        _attestations.push(
            Attestation({
                reserve: grams18,
                reportHash: reportHash,
                asOf: asOf,
                attestedAt: uint64(block.timestamp),
                attestor: _msgSender()
            })
        );
        emit ReserveAttested(count, grams18, reportHash, asOf, _msgSender());
    }

    function attestationCount() external view returns (uint256) {
        return _attestations.length;
    }

    function attestation(uint256 index) external view returns (Attestation memory) {
        uint256 count = _attestations.length;
        if (index >= count) revert AttestationNotFound(index, count);
        return _attestations[index];
    }

    /// @notice The most recent attestation; reverts with AttestationNotFound(0, 0) if none.
    function latestAttestation() external view returns (Attestation memory) {
        uint256 count = _attestations.length;
        if (count == 0) revert AttestationNotFound(0, 0);
        return _attestations[count - 1];
    }

    /// @notice Reserve of the latest attestation in base units, or zero before the first one.
    function latestReserve() public view returns (uint256) {
        uint256 count = _attestations.length;
        return count == 0 ? 0 : _attestations[count - 1].reserve;
    }

    // ---------------------------------------------------------------- internals

    function _requireCanTransact(address account) private view {
        if (_frozen[account]) revert AccountFrozen(account);
        if (allowlistMode && !_allowlisted[account]) revert NotAllowlisted(account);
    }

    /// @dev Every balance change passes here: the pause check comes from ERC20Pausable, and the
    /// zero address (the mint source and burn sink) is exempt from the account checks.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Pausable) {
        if (from != address(0)) _requireCanTransact(from);
        if (to != address(0)) _requireCanTransact(to);
        super._update(from, to, value);
    }
}
