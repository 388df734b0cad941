package PdfReport::Token;

# Mints compact JWS tokens for the tests with Crypt::JWT (Debian:
# libcrypt-jwt-perl), an implementation independent of the module's C
# code, signed with the TEST-ONLY keys in t/data/keys/.
#
#   use lib "$FindBin::Bin/lib";      # or wherever t/lib is
#   use PdfReport::Token;
#
#   my $t = PdfReport::Token::mint();                 # RS256, kid rsa1
#   $t = PdfReport::Token::mint(alg => 'ES384');      # kid ec384
#   $t = PdfReport::Token::mint(
#       alg    => 'PS256',
#       kid    => undef,                # no "kid" header at all
#       key    => 'rsa2',               # sign with t/data/keys/rsa2.pem
#       claims => { org_id => 'org_other', scope => undef },  # undef: drop
#       header => { typ => 'JWT' },
#       now    => 1750000000,           # default: time()
#   );
#
# Default claims: iss https://auth.sqr.test/, aud pdf-report, org_id
# org_acme, scope "read:reports write:reports", iat now, exp now + 3600.
# Default kid (and key) per alg: RS*/PS* rsa1, ES256 ec256, ES384 ec384,
# ES512 ec521, EdDSA ed25519; key => 'ed448' signs EdDSA with Ed448.
#
# alg => 'none' gives an unsigned token; alg => 'HS256' (384, 512) needs
# secret => $bytes.  sign_raw() signs exact header and payload bytes, for
# malformed JSON that an encoder would never produce.
#
# Crypt::JWT 0.034 (Debian 12) signs every alg the module accepts, EdDSA
# with Ed25519 included; CryptX 0.077 has no Ed448, so Ed448 signatures
# come from "openssl pkeyutl -rawin" instead (equally independent of the
# module).

use strict;
use warnings;
use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempfile);
use JSON::PP;
use Crypt::JWT qw(encode_jwt);
use Crypt::Mac::HMAC qw(hmac);
use Crypt::Misc qw(encode_b64u);
use Crypt::PK::RSA;
use Crypt::PK::ECC;
use Crypt::PK::Ed25519;

our $KEY_DIR = abs_path(dirname(__FILE__) . '/../../data/keys');

our $ISSUER = 'https://auth.sqr.test/';
our $AUDIENCE = 'pdf-report';
our $ORG = 'org_acme';
our $SCOPE = 'read:reports write:reports';

my %DEFAULT_KID = (
    RS256 => 'rsa1', RS384 => 'rsa1', RS512 => 'rsa1',
    PS256 => 'rsa1', PS384 => 'rsa1', PS512 => 'rsa1',
    ES256 => 'ec256', ES384 => 'ec384', ES512 => 'ec521',
    EdDSA => 'ed25519',
);

my %EC_HASH = (ES256 => 'SHA256', ES384 => 'SHA384', ES512 => 'SHA512');


sub key_file {
    my ($name) = @_;
    my $file = "$KEY_DIR/$name.pem";
    croak "no key $name in $KEY_DIR" unless -f $file;
    return $file;
}


# the Crypt::PK object for a key name (ed448: its file name)
sub private_key {
    my ($name) = @_;
    my $file = key_file($name);
    return $file if $name eq 'ed448';
    return Crypt::PK::RSA->new($file) if $name =~ /^rsa/;
    return Crypt::PK::ECC->new($file) if $name =~ /^ec/;
    return Crypt::PK::Ed25519->new($file) if $name eq 'ed25519';
    croak "unknown key type for $name";
}


# SubjectPublicKeyInfo PEM of a key: the classic HS256 confusion secret
sub public_pem {
    my ($name) = @_;
    my $pk = private_key($name);
    croak "public_pem: not for $name" unless ref $pk;
    return $pk->export_key_pem('public');
}


sub default_claims {
    my ($now) = @_;
    $now //= time;
    return {
        iss    => $ISSUER,
        aud    => $AUDIENCE,
        org_id => $ORG,
        scope  => $SCOPE,
        iat    => $now + 0,
        exp    => $now + 3600,
    };
}


sub mint {
    my (%a) = @_;
    my $alg = $a{alg} // 'RS256';
    my $claims = default_claims($a{now});
    my %header = %{ $a{header} // {} };

    while (my ($k, $v) = each %{ $a{claims} // {} }) {
        if (defined $v) {
            $claims->{$k} = $v;
        } else {
            delete $claims->{$k};
        }
    }

    my $kid = exists $a{kid} ? $a{kid} : $DEFAULT_KID{$alg};
    $header{kid} = $kid if defined $kid;

    if ($alg eq 'none') {
        return encode_jwt(payload => $claims, alg => 'none',
                          allow_none => 1, extra_headers => \%header);
    }

    if ($alg =~ /^HS(256|384|512)$/) {
        croak "mint: $alg needs secret" unless defined $a{secret};
        return encode_jwt(payload => $claims, alg => $alg,
                          key => $a{secret}, extra_headers => \%header);
    }

    my $key = $a{key} // $kid // $DEFAULT_KID{$alg}
        // croak "mint: no key for $alg";

    if ($key eq 'ed448') {
        my $json = JSON::PP->new->canonical;
        return sign_raw(alg => $alg, key => $key,
                        header => $json->encode({ %header, alg => $alg }),
                        payload => $json->encode($claims));
    }

    return encode_jwt(payload => $claims, alg => $alg,
                      key => private_key($key), extra_headers => \%header);
}


# the signature of $data with key $name for $alg; der => 1 gives ECDSA in
# DER instead of JWS's raw R || S, saltlen => n a PSS salt other than the
# hash length JWA requires
sub signature {
    my ($alg, $name, $data, %o) = @_;

    if ($alg =~ /^HS(256|384|512)$/) {
        return hmac("SHA$1", $o{secret}, $data);
    }

    my $pk = private_key($name);

    if ($alg =~ /^RS(256|384|512)$/) {
        return $pk->sign_message($data, "SHA$1", 'v1.5');
    }

    if ($alg =~ /^PS(256|384|512)$/) {
        return $pk->sign_message($data, "SHA$1", 'pss',
                                 $o{saltlen} // $1 / 8);
    }

    if ($alg =~ /^ES(256|384|512)$/) {
        return $o{der} ? $pk->sign_message($data, $EC_HASH{$alg})
                       : $pk->sign_message_rfc7518($data, $EC_HASH{$alg});
    }

    if ($alg eq 'EdDSA' && ref $pk) {
        return $pk->sign_message($data);
    }

    if ($alg eq 'EdDSA') {
        my ($in, $in_name) = tempfile(UNLINK => 1);
        my ($out, $out_name) = tempfile(UNLINK => 1);
        binmode $in;
        print $in $data;
        close $in;
        system('openssl', 'pkeyutl', '-sign', '-rawin', '-inkey', $pk,
               '-in', $in_name, '-out', $out_name) == 0
            or croak "openssl pkeyutl failed";
        local $/;
        binmode $out;
        my $sig = <$out>;
        close $out;
        return $sig;
    }

    croak "signature: unsupported alg $alg";
}


# a compact JWS of exactly these header and payload bytes
sub sign_raw {
    my (%a) = @_;
    my $input = encode_b64u($a{header}) . '.' . encode_b64u($a{payload});
    return "$input." if $a{alg} eq 'none';
    return "$input."
        . encode_b64u(signature($a{alg}, $a{key}, $input, %a));
}


1;
